"""`train`: a preset config -> a trained generator and its run folder."""

import json
import os
import sys
import time
import warnings

import keras

import ganzoo
from ganzoo import callbacks as callbacks_module
from ganzoo import config as config_module
from ganzoo import data
from ganzoo import precision as precision_module
from ganzoo.hub import sha256_file

PRECISIONS = precision_module.PRECISIONS


def _float32_copy(spec, network):
    """Rebuilds `network` from its spec under float32 and copies its weights."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        copy = config_module.build_network(spec)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    copy.set_weights(network.get_weights())
    return copy


def _fd_available(dataset, image_shape):
    from ganzoo.metrics import classifiers

    if dataset not in classifiers.CLASSIFIER_DATASETS:
        return False
    if tuple(classifiers.CLASSIFIER_CONFIGS[dataset]["image_shape"]) != tuple(image_shape):
        return False
    try:
        classifiers.classifier_record(dataset)
    except (FileNotFoundError, ValueError, KeyError):
        return False
    return True


def train(config, out_dir, *, epochs=None, verbose=1, callbacks=(), export_onnx=True, precision="float32",
          jit=False, fd_every=None, command=None):
    """Trains the GAN a preset describes and writes a run folder.

    Steps: validate `config`; `keras.utils.set_random_seed(recipe.seed)`;
    set the global dtype policy to `precision`; build and compile the GAN
    (`ganzoo.config.build_gan`, `jit_compile=jit`); fit it on
    `ganzoo.data.load(recipe.dataset, ...)` with the default callbacks
    (`NaNGuard`, `GeneratorEMA` when `recipe.ema_decay` is set,
    `FrechetDistanceMonitor` when the dataset has a shipped classifier at
    this image size, `SampleGrid` every epoch, then the given `callbacks`,
    then `MetricsLog`, so keys they log reach the CSV); restore the dtype
    policy; save; export.

    Files in `out_dir`:
        `samples/epoch_NNN.png`, `metrics.csv`, `metrics.png`,
        `generator.keras` (float32; the EMA generator when enabled, else
        the final one), `generator_best.keras` (lowest FD, when FD ran),
        `config.json` (the config as a preset: `weights` pointing at
        `generator.keras` with its sha256, `training` filled in, `quality`
        null until `ganzoo evaluate`) and `generator.onnx` (when
        `export_onnx` and the `export` package is available). Files of an
        earlier run in `out_dir` are overwritten; its stale
        `samples/epoch_*.png` are removed first.

    Args:
        config: a preset dict (see `ganzoo.config.validate_config`).
        out_dir: the run folder (created).
        epochs: overrides `recipe.epochs` (recorded in config.json).
        verbose: Keras' verbosity: 1 progress bar, 2 a line per epoch, 0 none.
        callbacks: more Keras callbacks (see above for their place).
        export_onnx: export `generator.onnx` with `export.to_onnx`.
        precision: `"float32"`, `"mixed_float16"`, `"mixed_bfloat16"`, or
            `"auto"`: bf16 where the device has bf16 arithmetic, float16 on
            older NVIDIA GPUs, float32 elsewhere (`ganzoo.precision`).
        jit: compile the train step with XLA.
        fd_every: epochs between FD evaluations; default about 5 per run;
            0 disables FD.
        command: the command line to record in config.json.

    Returns:
        A dict: `config` (as written), `history` (Keras History.history),
        `seconds` (fit time), `nan_guard` (None or the `NaNGuard.tripped`
        dict), `out_dir` and `files` (name -> path).

    Example:
        >>> result = train(default_config("dcgan", epochs=2), "runs/dcgan")
    """
    config = config_module.validate_config(json.loads(json.dumps(config)))
    requested, precision = precision, precision_module.resolve_precision(precision)
    if requested == "auto" and verbose:
        print(f"ganzoo: --precision auto chose {precision} for this device")
    recipe = config["recipe"]
    if epochs is not None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"Expected epochs to be a positive int. Received: epochs={epochs!r}")
        recipe["epochs"] = epochs
    if fd_every is not None and (isinstance(fd_every, bool) or not isinstance(fd_every, int) or fd_every < 0):
        raise ValueError(f"Expected fd_every to be None or an int >= 0. Received: fd_every={fd_every!r}")
    out_dir = os.fspath(out_dir)
    samples_dir = os.path.join(out_dir, "samples")
    os.makedirs(samples_dir, exist_ok=True)
    for name in os.listdir(samples_dir):  # a previous run's grids would mix with this run's
        if name.startswith("epoch_") and name.endswith(".png"):
            os.remove(os.path.join(samples_dir, name))
    files = {}

    keras.utils.set_random_seed(recipe["seed"])
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        num_classes = config["gan"]["num_classes"]
        gan = config_module.build_gan(config, jit_compile=bool(jit))
        dataset = data.load(
            recipe["dataset"],
            batch_size=recipe["batch_size"],
            image_size=recipe["image_size"],
            with_labels=num_classes is not None,
            seed=recipe["seed"],
            discriminator_steps=config["gan"]["discriminator_steps"],
        )
        guard = callbacks_module.NaNGuard()
        defaults = [guard]
        ema = None
        if recipe["ema_decay"] is not None:
            ema = callbacks_module.GeneratorEMA(recipe["ema_decay"])
            defaults.append(ema)
        fd_monitor = None
        if fd_every is None:
            fd_every = max(1, recipe["epochs"] // 5)
        if fd_every and _fd_available(recipe["dataset"], gan.image_shape):
            fd_monitor = callbacks_module.FrechetDistanceMonitor(recipe["dataset"], every=fd_every, ema=ema)
            defaults.append(fd_monitor)
        # 64 samples; conditional: 8 full rows of one sample per class.
        sample_grid = callbacks_module.SampleGrid(samples_dir, every=1, n=64 if num_classes is None else 8 * num_classes,
                                                  ema=ema)
        metrics_log = callbacks_module.MetricsLog(os.path.join(out_dir, "metrics.csv"), os.path.join(out_dir, "metrics.png"))
        all_callbacks = [*defaults, sample_grid, *callbacks, metrics_log]

        start = time.perf_counter()
        # shuffle=False: ganzoo.data.load shuffles; Keras would only warn that it ignores the flag.
        history = gan.fit(dataset, epochs=recipe["epochs"], verbose=verbose, callbacks=all_callbacks, shuffle=False)
        seconds = time.perf_counter() - start

        final = ema.ema_generator if ema is not None else gan.generator
        generator = _float32_copy(config["generator"], final)
        files["generator"] = os.path.join(out_dir, "generator.keras")
        generator.save(files["generator"])
        if fd_monitor is not None and fd_monitor.best_weights is not None:
            best = _float32_copy(config["generator"], final)
            best.set_weights(fd_monitor.best_weights)
            files["generator_best"] = os.path.join(out_dir, "generator_best.keras")
            best.save(files["generator_best"])
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)

    files["samples"] = sample_grid.paths
    files["metrics_csv"] = metrics_log.path_csv
    files["metrics_png"] = metrics_log.plot_path
    config["weights"] = {
        "file": "generator.keras",
        "sha256": sha256_file(files["generator"]),
        "size_bytes": os.path.getsize(files["generator"]),
    }
    config["quality"] = None  # new weights; `ganzoo evaluate` fills it in
    config["training"] = {
        "seconds": round(seconds, 2),
        "command": command or f"ganzoo.train.train(precision={precision!r}, jit={bool(jit)})",
        "ganzoo_version": ganzoo.__version__,
    }
    config_module.validate_config(config)
    files["config"] = os.path.join(out_dir, "config.json")
    with open(files["config"], "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
        f.write("\n")

    if export_onnx:
        path = _export(generator, os.path.join(out_dir, "generator.onnx"), files.get("generator"))
        if path is not None:
            files["onnx"] = path
    return {
        "config": config,
        "history": history.history,
        "seconds": seconds,
        "nan_guard": guard.tripped,
        "out_dir": out_dir,
        "files": files,
    }


def _export(generator, path, keras_file=None):
    """Exports with `ganzoo.export.to_onnx` if onnx and tf2onnx are installed; warns and returns None if not.

    The exporter runs on the TensorFlow backend (Keras' ONNX export through
    tf2onnx). On JAX or PyTorch the saved `.keras` generator is exported in a
    TensorFlow subprocess (`python -m ganzoo export`), which verifies it the same way.
    """
    if keras.backend.backend() != "tensorflow":
        return _export_in_tensorflow(keras_file, path)
    try:
        from ganzoo.export.onnx_export import to_onnx
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in ("onnx", "tf2onnx", "onnxconverter_common", "tensorflow"):
            raise
        warnings.warn(
            f"ONNX export skipped: the exporter needs {error.name} (onnx and tf2onnx come with "
            "pip install 'ganzoo[tensorflow]').",
            stacklevel=3,
        )
        return None
    to_onnx(generator, path)
    return path


def _export_in_tensorflow(keras_file, path):
    import importlib.util
    import subprocess

    if keras_file is None or importlib.util.find_spec("tensorflow") is None:
        warnings.warn("ONNX export skipped: it needs TensorFlow (pip install 'ganzoo[tensorflow]').", stacklevel=3)
        return None
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    command = [sys.executable, "-m", "ganzoo", "export", os.fspath(keras_file), "-o", os.fspath(path)]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        warnings.warn(f"ONNX export in a TensorFlow subprocess failed: {result.stderr.strip()[-2000:]}", stacklevel=3)
        return None
    return path
