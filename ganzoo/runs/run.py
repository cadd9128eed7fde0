"""`train`: a preset config -> a trained generator and its run folder."""

import contextlib
import json
import os
import sys
import time
import warnings

import keras

import ganzoo
from ganzoo.training import callbacks as callbacks_module
from ganzoo.runs import checkpoint
from ganzoo.training import config as config_module
from ganzoo import data
from ganzoo.training import distribution as distribution_module
from ganzoo.training import mixed_precision as precision_module
from ganzoo.runs import run_folder
from ganzoo.training.balance import BalanceMonitor
from ganzoo.client.files import sha256_file, write_atomic
from ganzoo.install_hints import missing_message

PRECISIONS = precision_module.PRECISIONS


def _float32_copy(entry, network):
    """Builds `network`'s preset entry in float32 (the global policy untouched) and copies its weights."""
    copy = config_module.build_network(entry, dtype="float32")
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


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a run; its folder holds the checkpoint `--resume` continues from.

    Attributes:
        out_dir: the run folder.
        epochs_done: the epochs in its latest checkpoint (0: none yet).
    """

    def __init__(self, out_dir, epochs_done):
        super().__init__(out_dir, epochs_done)
        self.out_dir, self.epochs_done = out_dir, epochs_done

    def __str__(self):
        saved = f"the checkpoint of epoch {self.epochs_done}" if self.epochs_done else "no checkpoint yet (epoch 1 did not end)"
        return (f"Interrupted. {self.out_dir} holds {saved}; continue with: ganzoo train --resume {self.out_dir}")


def train(config, out_dir, *, epochs=None, verbose=1, callbacks=(), export_onnx=True, precision="float32",
          jit=False, fd_every=None, command=None, overwrite=False, distribute=None):
    """Trains the GAN a preset describes and writes a run folder.

    Steps: validate `config`; `keras.utils.set_random_seed(recipe.seed)`;
    set the global dtype policy to `precision`; build and compile the GAN
    (`ganzoo.training.config.build_gan`, `jit_compile=jit`); fit it on
    `ganzoo.data.load_epochs(recipe.dataset, ...)` with the default callbacks
    (`NaNGuard`, `GeneratorEMA` when `recipe.ema_decay` is set,
    `FrechetDistanceMonitor` when the dataset has a shipped classifier at
    this image size, `SampleGrid` every epoch, then the given `callbacks`,
    then `MetricsLog`, so keys they log reach the CSV, then
    `ganzoo.runs.checkpoint.RunCheckpoint`); restore the dtype policy; save;
    export.

    The run folder is locked while the run uses it (a second run into it
    fails at once, naming the process that holds it), and every file is
    written under a temporary name and renamed into place, so a crash or a
    full disk leaves no truncated file; a full disk ends in one line naming
    the path, and `run.json` and the last checkpoint stay. A run deletes or
    replaces only files a ganzoo run recorded writing (`run.json` lists
    them): a folder that holds another run is refused unless `overwrite`
    (which removes that run's recorded files first, nothing else), and one
    holding someone else's file under a run file's name (a `config.json`,
    `metrics.csv`) is refused even with `overwrite`. `resume(out_dir)`
    continues an interrupted run from its last end-of-epoch checkpoint.

    Files in `out_dir`:
        `run.json` (the config and settings, for `resume`, and the files
        the run writes),
        `samples/epoch_NNN.png`, `metrics.csv`, `metrics.png`,
        `generator.keras` (float32; the EMA generator when enabled, else
        the final one), `generator_best.keras` (lowest FD, when FD ran),
        `config.json` (the config as a preset: `weights` pointing at
        `generator.keras` with its sha256, `training` filled in, `quality`
        null until `ganzoo evaluate`) and `generator.onnx` (when
        `export_onnx` and the exporter is installed). `checkpoints/` exists
        while the run is unfinished (files of others in it stay), and
        `.lock` while the run holds the folder.

    Args:
        config: a preset dict (see `ganzoo.training.config.validate_config`).
        out_dir: the run folder (created).
        epochs: overrides `recipe.epochs` (recorded in config.json).
        verbose: Keras' verbosity: 1 progress bar, 2 a line per epoch, 0 none.
        callbacks: more Keras callbacks (see above for their place).
        export_onnx: export `generator.onnx` with `ganzoo.export.to_onnx`.
        precision: `"float32"`, `"mixed_float16"`, `"mixed_bfloat16"`, or
            `"auto"`: bf16 where the device has bf16 arithmetic, float16 on
            older NVIDIA GPUs, float32 elsewhere (`ganzoo.training.mixed_precision`).
        jit: compile the train step with XLA.
        fd_every: epochs between FD evaluations; default about 5 per run;
            0 disables FD.
        command: the command line to record in config.json.
        overwrite: replace a run already in `out_dir`.
        distribute: None (one device), `"all"` (data parallel on every
            local GPU) or N (N GPUs, or N host devices without one); see
            `ganzoo.training.distribution`. `recipe.batch_size` is the global batch
            and the learning rates are the same as on one device.

    Returns:
        A dict: `config` (as written), `history` (Keras History.history),
        `seconds` (fit time of the whole run, epochs before a resume
        included), `process_seconds` (fit time in this process),
        `nan_guard` (None or the `NaNGuard.tripped` dict), `out_dir`,
        `files` (name -> path), `resumed_from` (0) and `summary` (one line
        for people: the run, what this process trained, the total).

    Raises:
        FileExistsError: `out_dir` holds another run and not `overwrite`,
            or files under a run file's name that no ganzoo run wrote.
        ganzoo.runs.run_folder.RunFolderFull: the disk filled up (one line).
        ganzoo.runs.run_folder.RunFolderInUse: another process trains into it.
        TrainingInterrupted: Ctrl-C (or SIGTERM, from the CLI) stopped it.

    Example:
        >>> result = train(default_config("dcgan", epochs=2), "runs/dcgan")
    """
    config = config_module.validate_config(json.loads(json.dumps(config)))
    requested, precision = precision, precision_module.resolve_precision(precision)
    if requested == "auto" and verbose:
        print(f"ganzoo: --precision auto chose {precision} for this device")
    if epochs is not None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"Expected epochs to be a positive int. Received: epochs={epochs!r}")
        config["recipe"]["epochs"] = epochs
    if fd_every is not None and (isinstance(fd_every, bool) or not isinstance(fd_every, int) or fd_every < 0):
        raise ValueError(f"Expected fd_every to be None or an int >= 0. Received: fd_every={fd_every!r}")
    if fd_every is None:
        fd_every = max(1, config["recipe"]["epochs"] // 5)
    if not (distribute is None or distribute == "all" or (
            isinstance(distribute, int) and not isinstance(distribute, bool) and distribute >= 1)):
        raise ValueError(f"Expected distribute to be None, 'all' or an int >= 1. Received: distribute={distribute!r}")
    settings = {"precision": precision, "jit": bool(jit), "fd_every": fd_every, "export_onnx": bool(export_onnx),
                "command": command, "distribute": distribute}
    out_dir = os.fspath(out_dir)
    with run_folder.lock(out_dir):
        run_folder.claim(out_dir, overwrite=overwrite)
        try:
            try:
                run_folder.record(out_dir, config, settings)
            except OSError as error:
                path = os.path.join(out_dir, run_folder.RUN_RECORD)
                raise run_folder.write_failed(error, path, out_dir, resumable=False) from None
            return _guarded_run(config, out_dir, settings, verbose=verbose, callbacks=callbacks, start=None)
        except Exception as error:
            # Failed before its first checkpoint: leave no "run" behind, so a corrected run may use the folder.
            # A full disk keeps run.json: `--resume` starts the run again once there is room.
            if getattr(error, "errno", None) not in run_folder.DISK_FULL and not checkpoint.started(out_dir):
                run_folder.forget_unstarted(out_dir)
            raise


def resume(out_dir, *, verbose=1, callbacks=()):
    """Continues the interrupted run in `out_dir` with its recorded config and settings.

    It restores the last end-of-epoch checkpoint (networks, optimizers, seed
    states, EMA, FD history and best, metrics) and fast-forwards the data
    pipeline, so the run ends with the same generator as an uninterrupted
    one (bit for bit on the same machine and backend). A run that never
    finished an epoch starts over; one that finished training but not its
    files only writes them.

    The checkpoint is the newest intact `checkpoints/epoch_NNNN` of this run
    (`ganzoo.runs.checkpoint.find`): a broken or foreign `latest.json` is not
    followed, and no checkpoint is ever deleted to start over.

    Returns:
        The dict of `train`, with `resumed_from` the epochs restored.

    Raises:
        ValueError: `out_dir` holds no `ganzoo train` run; its checkpoints
            are all damaged (the message names the file); or `run.json` was
            edited since the checkpoint (the message names the key).
        ganzoo.runs.run_folder.RunFolderInUse: another process trains into it.
    """
    out_dir = os.fspath(out_dir)
    run_folder.claim(out_dir, resume=True)  # before lock(), which would create a mistyped folder
    with run_folder.lock(out_dir):
        run_folder.claim(out_dir, resume=True)
        config, settings = run_folder.read_record(out_dir)
        source = os.path.join(out_dir, run_folder.RUN_RECORD)
        config = config_module.validate_config(config, source=source)
        start = checkpoint.find(out_dir)
        if start is None and os.path.exists(os.path.join(out_dir, "generator.keras")):
            raise ValueError(
                f"Expected an unfinished run to resume. Received: {out_dir!r}, whose run finished (it holds "
                "generator.keras and no checkpoint). Train anew with --overwrite or another --out"
            )
        if start is not None:
            checkpoint.check_trained_with(start[1], _trained_with(config, settings), source)
        return _guarded_run(config, out_dir, settings, verbose=verbose, callbacks=callbacks, start=start)


def _trained_with(config, settings):
    """What a checkpoint records of its run, so that a resume under other settings is refused."""
    return {"config": config, "precision": settings["precision"]}


def _guarded_run(config, out_dir, settings, **kwargs):
    """`_run`, with Ctrl-C or SIGTERM at any moment (also while saving) reported as `TrainingInterrupted`,
    and a full disk as one line naming the path."""
    try:
        return _run(config, out_dir, settings, **kwargs)
    except TrainingInterrupted:
        raise
    except KeyboardInterrupt:
        latest = checkpoint.latest(out_dir)
        raise TrainingInterrupted(out_dir, latest[0] if latest else 0) from None
    except OSError as error:
        if error.errno not in run_folder.DISK_FULL:
            raise
        raise run_folder.write_failed(error, error.filename or out_dir, out_dir) from None


def _run(config, out_dir, settings, *, verbose, callbacks, start):
    recipe = config["recipe"]
    samples_dir = os.path.join(out_dir, "samples")
    os.makedirs(samples_dir, exist_ok=True)
    files = {}

    keras.utils.set_random_seed(recipe["seed"])
    previous_policy = keras.mixed_precision.global_policy()
    distribute = settings.get("distribute")  # None: one device; "all": every local accelerator; N replicas
    scope, replicas, close = (contextlib.nullcontext(), 1, lambda: None) if distribute is None else (
        distribution_module.data_parallel(None if distribute == "all" else distribute))
    keras.mixed_precision.set_global_policy(settings["precision"])
    try:
        num_classes = config["gan"]["num_classes"]
        if recipe["batch_size"] % replicas:
            raise ValueError(
                f"Expected recipe.batch_size (the global batch) divisible by the {replicas} replicas. "
                f"Received: batch_size={recipe['batch_size']}"
            )
        with scope:
            gan = config_module.build_gan(config, jit_compile=settings["jit"])
        wanted = tuple(data.image_shape(recipe["dataset"], recipe["image_size"]))
        if wanted != tuple(gan.image_shape):
            raise ValueError(
                f"Expected recipe.image_size and recipe.dataset to give the networks' image shape "
                f"{tuple(gan.image_shape)}. Received: recipe.image_size={recipe['image_size']} on "
                f"{recipe['dataset']!r}, which gives {wanted}"
            )
        initial_epoch = 0 if start is None else start[0]
        # Epoch e is shuffled by (seed, e) alone, so a resumed run reads what an uninterrupted one would.
        dataset, steps_per_epoch = data.load_epochs(
            recipe["dataset"],
            first_epoch=initial_epoch,
            seed=recipe["seed"],
            batch_size=recipe["batch_size"],
            image_size=recipe["image_size"],
            with_labels=num_classes is not None,
            discriminator_steps=config["gan"]["discriminator_steps"],
        )
        guard = callbacks_module.NaNGuard()
        defaults = [guard, BalanceMonitor()]
        ema = None
        if recipe["ema_decay"] is not None:
            ema = callbacks_module.GeneratorEMA(recipe["ema_decay"])
            defaults.append(ema)
            total_steps, horizon = steps_per_epoch * recipe["epochs"], 1.0 / (1.0 - recipe["ema_decay"])
            if total_steps < 3 * horizon:  # the average still holds e^-3 = 5% of the untrained start
                warnings.warn(
                    f"ema_decay={recipe['ema_decay']} averages over about {horizon:.0f} generator steps, but the run "
                    f"has {total_steps}: the saved EMA generator keeps {100 * recipe['ema_decay'] ** total_steps:.0f}% "
                    "of the untrained weights. Use a smaller decay (e.g. 0.99) or more epochs.",
                    stacklevel=2,
                )
        fd_monitor = None
        if settings["fd_every"] and _fd_available(recipe["dataset"], gan.image_shape):
            fd_monitor = callbacks_module.FrechetDistanceMonitor(recipe["dataset"], every=settings["fd_every"], ema=ema)
            defaults.append(fd_monitor)
        # 64 samples; conditional: 8 full rows of one sample per class.
        sample_grid = callbacks_module.SampleGrid(samples_dir, every=1, n=64 if num_classes is None else 8 * num_classes,
                                                  ema=ema)
        metrics_log = callbacks_module.MetricsLog(os.path.join(out_dir, "metrics.csv"), os.path.join(out_dir, "metrics.png"))
        parts = {"ema": ema, "fd_monitor": fd_monitor, "metrics_log": metrics_log, "sample_grid": sample_grid}
        saver = checkpoint.RunCheckpoint(out_dir, nan_guard=guard, trained_with=_trained_with(config, settings), **parts)
        all_callbacks = [*defaults, sample_grid, *callbacks, metrics_log, saver]

        if start is not None:
            checkpoint.restore(start[1], gan, **parts)
            if verbose:
                print(f"ganzoo: resuming {out_dir} after epoch {initial_epoch} of {recipe['epochs']}")
            if start[2] is not None:  # latest.json was not followed: say so whatever the verbosity
                print(f"ganzoo: note: {start[2]}", file=sys.stderr)

        # A resumed run counts the epochs before the interruption too (their times travel in the checkpoint).
        earlier = sum(float(row.get("epoch_seconds") or 0.0) for row in metrics_log.rows)
        started = time.perf_counter()
        try:
            # shuffle=False: ganzoo.data.load shuffles; Keras would only warn that it ignores the flag.
            history = gan.fit(dataset, epochs=recipe["epochs"], initial_epoch=initial_epoch,
                              steps_per_epoch=steps_per_epoch, verbose=verbose, callbacks=all_callbacks, shuffle=False)
        except KeyboardInterrupt:
            latest = checkpoint.latest(out_dir)
            raise TrainingInterrupted(out_dir, latest[0] if latest else 0) from None
        process_seconds = time.perf_counter() - started
        seconds = earlier + process_seconds

        final = ema.ema_generator if ema is not None else gan.generator
        generator = _float32_copy(config["generator"], final)
        files["generator"] = run_folder.save_model(generator, os.path.join(out_dir, "generator.keras"))
        if fd_monitor is not None and fd_monitor.best_weights is not None:
            best = _float32_copy(config["generator"], final)
            best.set_weights(fd_monitor.best_weights)
            files["generator_best"] = run_folder.save_model(best, os.path.join(out_dir, "generator_best.keras"))
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
        close()

    files["samples"] = sample_grid.paths
    files["metrics_csv"] = metrics_log.path_csv
    files["metrics_png"] = metrics_log.plot_path
    config["weights"] = {
        "file": "generator.keras",
        "sha256": sha256_file(files["generator"]),
        "size_bytes": os.path.getsize(files["generator"]),
    }
    config["quality"] = None  # new weights; `ganzoo evaluate` fills it in
    precision, jit = settings["precision"], settings["jit"]
    config["training"] = {
        "seconds": round(seconds, 2),
        "command": settings["command"] or f"ganzoo.runs.run.train(precision={precision!r}, jit={bool(jit)})",
        "ganzoo_version": ganzoo.__version__,
    }
    config_module.validate_config(config)
    files["config"] = os.path.join(out_dir, "config.json")
    write_atomic(files["config"], (json.dumps(config, indent=2) + "\n").encode("utf-8"))

    if settings["export_onnx"]:
        path = _export(generator, os.path.join(out_dir, "generator.onnx"), files.get("generator"))
        if path is not None:
            files["onnx"] = path
    # The run is complete: nothing left to resume (a checkpoints/ folder the run did not create stays).
    recorded = run_folder.written(out_dir)
    checkpoint.remove(out_dir, keep_folder=recorded is not None and "checkpoints" not in recorded[1])
    epochs_run = len(history.epoch)
    return {
        "config": config,
        "history": history.history,
        "seconds": seconds,
        "process_seconds": process_seconds,
        "nan_guard": guard.tripped,
        "out_dir": out_dir,
        "files": files,
        "resumed_from": initial_epoch,
        "summary": _summary(out_dir, config, initial_epoch, epochs_run, process_seconds, seconds),
    }


def _summary(out_dir, config, initial_epoch, epochs_run, process_seconds, seconds):
    """One line: the run (its folder and variant), what this process trained, and the run's total."""
    total = initial_epoch + epochs_run
    if epochs_run:
        here = f"epochs {initial_epoch + 1}-{total} in {process_seconds:.1f} s in this process"
    else:
        here = "no epoch left to train in this process (it wrote the run's files)"
    return (
        f"Trained {out_dir} ({config['variant']}): {here}; {total} epoch{'s' * (total != 1)}, {seconds:.1f} s in total."
    )


def _export(generator, path, keras_file=None):
    """Exports `generator.onnx` and its sidecar atomically (temporary names, then renamed); see `_export_to`."""
    temporary = run_folder.temporary_path(path, ".onnx")
    sidecars = (f"{temporary}.json", f"{path}.json")
    try:
        if _export_to(generator, temporary, keras_file) is None:
            return None
        os.replace(sidecars[0], sidecars[1])
        os.replace(temporary, path)
    finally:
        for leftover in (temporary, sidecars[0]):
            if os.path.exists(leftover):
                os.remove(leftover)
    return path


def _export_to(generator, path, keras_file=None):
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
            f"ONNX export skipped: {missing_message('the exporter', [error.name.split('.')[0]])}.",
            stacklevel=4,
        )
        return None
    try:
        to_onnx(generator, path)
    except Exception as error:  # noqa: BLE001 - the run is done; a failed export must not make it unfinishable
        warnings.warn(f"ONNX export failed: {type(error).__name__}: {error}", stacklevel=4)
        return None
    return path


def _export_in_tensorflow(keras_file, path):
    import importlib.util
    import subprocess

    if keras_file is None or importlib.util.find_spec("tensorflow") is None:
        warnings.warn(f"ONNX export skipped: {missing_message('the exporter', ['tensorflow'])}.", stacklevel=4)
        return None
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    command = [sys.executable, "-m", "ganzoo", "export", os.fspath(keras_file), "-o", os.fspath(path)]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        warnings.warn(f"ONNX export in a TensorFlow subprocess failed: {result.stderr.strip()[-2000:]}", stacklevel=4)
        return None
    return path
