"""Run an exported ganzoo generator with onnxruntime: no TensorFlow, no Keras.

This module imports only numpy, onnxruntime, the standard library and the
framework-free `ganzoo.client` (labels, sampling; presets and hub for
`OnnxGenerator.from_preset`) and `ganzoo.export.metadata`, so an app ships
it with the ONNX file and the base install alone.

Example:
    >>> from ganzoo.export.runtime import OnnxGenerator
    >>> generator = OnnxGenerator("generator.onnx")
    >>> images = generator.generate(16, labels=3, seed=0)  # uint8 (16, H, W, C)
"""

import os

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

from ganzoo.client import labels as labels_lib
from ganzoo.client import generation
from ganzoo.export import metadata as metadata_lib

# What onnxruntime raises for a file that is not a readable ONNX model (truncated, another format).
_LOAD_ERRORS = (
    ort_errors.InvalidProtobuf,
    ort_errors.InvalidArgument,
    ort_errors.InvalidGraph,
    ort_errors.Fail,
    ort_errors.NoModel,
)


def physical_cores():
    """Returns the number of physical CPU cores this process may use (at least 1).

    Counts distinct (package, core) pairs in /proc/cpuinfo, so hyper-threads
    do not count twice, capped by the CPU affinity; elsewhere falls back to
    the logical count.
    """
    logical = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    cores = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            package = core = None
            for line in file:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "physical id":
                    package = value.strip()
                elif key == "core id":
                    core = value.strip()
                elif not key and core is not None:  # blank line ends one processor
                    cores.add((package, core))
                    package = core = None
            if core is not None:
                cores.add((package, core))
    except OSError:
        pass
    return max(1, min(logical, len(cores) if cores else logical))


def default_session_options(intra_op_threads=None):
    """Session options for a generator: all graph optimisations, threads = physical cores."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL  # a chain of layers: no parallel branches
    options.intra_op_num_threads = intra_op_threads or physical_cores()
    options.inter_op_num_threads = 1
    return options


def _is_int(value, low):
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _names(value, count):
    return isinstance(value, list) and len(value) == count and all(isinstance(name, str) for name in value)


def _check_metadata(metadata, path):
    """Returns `(latent_dim, num_classes, image_shape, output_dtype)`, or raises naming the bad key."""
    rules = {
        "latent_dim": ("a positive int", lambda v: _is_int(v, 1)),
        "num_classes": ("null or an int >= 2", lambda v: v is None or _is_int(v, 2)),
        "image_shape": (
            "[height, width, channels] of positive ints",
            lambda v: isinstance(v, list) and len(v) == 3 and all(_is_int(d, 1) for d in v),
        ),
        "output_dtype": ("'float32' or 'uint8'", lambda v: v in ("float32", "uint8")),
        "class_names": ("null or one string per class", lambda v: v is None or _names(v, metadata.get("num_classes"))),
    }
    for key, (form, ok) in rules.items():
        if key not in metadata and key != "class_names":
            raise ValueError(f"Expected the key {key!r} ({form}) in the metadata of {path}. Received: no such key")
        if not ok(metadata.get(key)):
            raise ValueError(
                f"Expected {key} in the metadata of {path} to be {form}. Received: {key}={metadata[key]!r}"
            )
    image_shape, output_dtype = tuple(metadata["image_shape"]), np.dtype(metadata["output_dtype"])
    return metadata["latent_dim"], metadata["num_classes"], image_shape, output_dtype


def _unreadable(path, error):
    """One line saying why onnxruntime could not load `path`, and what was expected."""
    with open(path, "rb") as file:
        head = file.read(4)
    if head == b"PK\x03\x04":
        what = (
            "a zip archive (a Keras .keras file?). Run a .keras generator with `ganzoo generate FILE.keras`, "
            "or export it first with `ganzoo export FILE.keras -o FILE.onnx`"
        )
    else:
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        reason = text.rpartition(" failed:")[2]  # onnxruntime's "... Load model from PATH failed:REASON"
        what = f"which onnxruntime cannot read (truncated, or not an ONNX model): {reason}"
    return f"Expected an ONNX model file. Received: path={path!r}, {what}"[:800]


class OnnxGenerator:
    """An exported ganzoo generator in one reused onnxruntime session.

    Args:
        path: the ONNX file written by `export.to_onnx`. Its facts come from
            its `metadata_props`, or from the sidecar `<path>.json`.
        intra_op_threads: threads per operator; defaults to the number of
            physical cores.
        providers: onnxruntime execution providers; defaults to CPU.

    Attributes:
        metadata: the metadata dict (see `export.metadata.KEYS`).
        latent_dim: size of the noise vector `z`.
        num_classes: class count, or None for an unconditional generator.
        class_names: list of class names, or None.
        image_shape: `(height, width, channels)`.

    Raises:
        FileNotFoundError: if `path` does not exist.
        ValueError: if the file is not a readable ONNX model, lacks ganzoo
            metadata (props and sidecar), has metadata that disagrees with
            its graph (inputs, output shape and dtype), or has a sidecar
            recording a `sha256` that the file does not have.
    """

    def __init__(self, path, *, intra_op_threads=None, providers=None):
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Expected an existing ONNX file. Received: path={path!r}")
        self.path = path
        try:
            self.session = ort.InferenceSession(
                path,
                sess_options=default_session_options(intra_op_threads),
                providers=providers or ["CPUExecutionProvider"],
            )
        except _LOAD_ERRORS as error:
            raise ValueError(_unreadable(path, error)) from None
        props = metadata_lib.from_props(self.session.get_modelmeta().custom_metadata_map)
        self._source = "metadata_props"
        if props.get("format") == metadata_lib.FORMAT:
            self.metadata = props
        else:
            self.metadata = metadata_lib.read_sidecar(path)
            self._source = f"sidecar {metadata_lib.sidecar_path(path)}"
            if self.metadata is not None:
                metadata_lib.check_sha256(path, self.metadata)
        if not self.metadata or self.metadata.get("format") != metadata_lib.FORMAT:
            raise ValueError(
                f"Expected an ONNX file exported by ganzoo (metadata_props or a sidecar {path}.json "
                f"with format={metadata_lib.FORMAT!r}). Received: path={path!r}"
            )
        facts = _check_metadata(self.metadata, path)
        self.latent_dim, self.num_classes, self.image_shape, self.output_dtype = facts
        self.class_names = self.metadata.get("class_names")
        self._input_names = [value.name for value in self.session.get_inputs()]
        self._check_graph()

    def _check_graph(self):
        """Refuses metadata that disagrees with the graph's own inputs and output."""
        inputs = {value.name: value for value in self.session.get_inputs()}
        expected = {"z", "label"} if self.num_classes is not None else {"z"}
        z_shape = inputs["z"].shape if "z" in inputs else None
        problem = None
        if set(inputs) != expected:
            problem = f"graph inputs {sorted(inputs)} where num_classes={self.num_classes} means {sorted(expected)}"
        elif len(z_shape) != 2 or (isinstance(z_shape[1], int) and z_shape[1] != self.latent_dim):
            problem = f"input z of shape {z_shape} where latent_dim={self.latent_dim}"
        elif [value.name for value in self.session.get_outputs()] != ["image"]:
            problem = f"outputs {[value.name for value in self.session.get_outputs()]} instead of ['image']"
        else:
            problem = metadata_lib.graph_problem(self.metadata, inputs, self.session.get_outputs()[0])
        if problem:
            raise ValueError(
                f"Expected the metadata of {self.path} (its {self._source}) to describe its graph. Received: {problem}"
            )

    @classmethod
    def from_preset(cls, name, hub=None, **kwargs):
        """Returns the ONNX generator of a zoo preset, downloaded (sha256-verified) or from the cache.

        Needs only the base install (numpy, onnxruntime): the preset JSON
        and its ONNX file come through the same hub, cache and offline rules
        as `ganzoo.load_generator` (`$GANZOO_HUB_URL`, `$GANZOO_CACHE`,
        `$GANZOO_OFFLINE`).

        Args:
            name: a preset name, e.g. `"cgan_fashion_mnist"`.
            hub: a directory or `http(s)://` URL of a hub; default
                `$GANZOO_HUB_URL`, else the presets shipped in the package.
            **kwargs: passed to `OnnxGenerator` (`intra_op_threads`,
                `providers`).

        Raises:
            ValueError: an unknown name (listing the known ones), a preset
                without an ONNX file, a hash mismatch, or a file that
                disagrees with its preset.
            FileNotFoundError, ConnectionError: the file cannot be had.

        Example:
            >>> generator = OnnxGenerator.from_preset("cgan_fashion_mnist")
            >>> pixels = generator.generate(10, labels=list(range(10)), seed=0)  # uint8 (10, 28, 28, 1)
        """
        from ganzoo.client import presets  # standard library only: no Keras

        config = presets.load_config(name, hub)
        generator = cls(presets.onnx_path(name, hub, config), **kwargs)
        for key, value in (("latent_dim", generator.latent_dim), ("num_classes", generator.num_classes)):
            if value != config["gan"][key]:
                raise ValueError(
                    f"Expected the ONNX generator of preset {name!r} to have {key}={config['gan'][key]!r}. "
                    f"Received: {key}={value!r} in {generator.path}"
                )
        return generator

    def __repr__(self):
        return (
            f"OnnxGenerator({self.path!r}, latent_dim={self.latent_dim}, num_classes={self.num_classes}, "
            f"image_shape={self.image_shape})"
        )

    def check_labels(self, labels, n):
        """Returns labels as int32 `(n,)` (None if unconditional), or raises a clear ValueError.

        `labels` is None, an int (every sample of that class) or `n` ints in
        `[0, num_classes)` (see `ganzoo.client.labels.check_labels`).
        """
        return labels_lib.check_labels(labels, n, self.num_classes)

    def run(self, z, labels=None):
        """Runs the graph on given noise: the raw `image` output for `z` (and `labels`).

        Args:
            z: float array `(n, latent_dim)`.
            labels: for a conditional generator, an int or `n` class ids.

        Returns:
            `(n, H, W, C)`: float32 in [-1, 1], or uint8 for a uint8 export.

        Raises:
            ValueError: for a wrong `z` shape or dtype, or bad labels.
        """
        z = np.asarray(z)
        if z.ndim != 2 or z.shape[1] != self.latent_dim or not np.issubdtype(z.dtype, np.floating):
            raise ValueError(
                f"Expected z to be a float array of shape (n, {self.latent_dim}). Received: z with shape "
                f"{z.shape} and dtype {z.dtype}"
            )
        feeds = {"z": z.astype(np.float32, copy=False)}
        labels = self.check_labels(labels, z.shape[0])
        if labels is not None:
            feeds["label"] = labels
        (images,) = self.session.run(["image"], {name: feeds[name] for name in self._input_names})
        return images

    def generate(self, n, labels=None, seed=None, batch_size=64):
        """Generates `n` images as uint8 pixels `(n, H, W, C)`.

        The noise (`np.random.default_rng(seed).standard_normal`, float32)
        and labels are those of `ganzoo.generate_images`
        (`ganzoo.client.generation.generate`), so one seed gives the same
        images in Keras and here.

        Args:
            n: number of images, a positive int.
            labels: for a conditional generator, an int or `n` class ids;
                None cycles through the classes (0, 1, ..., num_classes - 1, 0, ...).
            seed: seed of the noise; the same seed gives the same images.
            batch_size: images per session run.

        Returns:
            A uint8 NumPy array `(n, H, W, C)`.

        Raises:
            ValueError: for a bad `n`, `batch_size`, `seed` or `labels`.
        """
        images = generation.generate(self.run, n, self.latent_dim, self.num_classes, labels, seed, batch_size)
        if images.dtype == np.uint8:
            return images
        return np.clip(np.round((images + np.float32(1.0)) * np.float32(127.5)), 0, 255).astype(np.uint8)
