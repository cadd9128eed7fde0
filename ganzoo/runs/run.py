"""`train`: a preset config -> a trained generator and its run folder.

`train` and `resume` hold the run folder (its lock, its record, what a
failure leaves) and hand the run to the phases of a
`ganzoo.runs.run_phases.Run`, called in order by `_run`.
"""

import os
import sys
import warnings

from ganzoo import data  # noqa: F401 - `ganzoo.runs.run.data` is how tests reach the data the run loads
from ganzoo.install_hints import missing_message
from ganzoo.runs import checkpoint, run_folder
from ganzoo.runs.run_phases import Run
from ganzoo.runs.run_settings import run_settings, trained_with
from ganzoo.training import config as config_module
from ganzoo.training import mixed_precision as precision_module

PRECISIONS = precision_module.PRECISIONS


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
        saved = (
            f"the checkpoint of epoch {self.epochs_done}"
            if self.epochs_done
            else "no checkpoint yet (epoch 1 did not end)"
        )
        return f"Interrupted. {self.out_dir} holds {saved}; continue with: ganzoo train --resume {self.out_dir}"


def train(
    config,
    out_dir,
    *,
    epochs=None,
    verbose=1,
    callbacks=(),
    export_onnx=True,
    precision="float32",
    jit=False,
    fd_every=None,
    command=None,
    overwrite=False,
    distribute=None,
):
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
    config, settings = run_settings(
        config,
        epochs=epochs,
        precision=precision,
        jit=jit,
        fd_every=fd_every,
        export_onnx=export_onnx,
        command=command,
        distribute=distribute,
        verbose=verbose,
    )
    out_dir = os.fspath(out_dir)
    with run_folder.lock(out_dir):
        run_folder.claim(out_dir, overwrite=overwrite)
        try:
            try:
                run_folder.record(out_dir, config, settings)
            except OSError as error:
                path = os.path.join(out_dir, run_folder.RUN_RECORD)
                raise run_folder.write_failed(error, path, out_dir, resumable=False) from None
            return _guarded_run(Run(config, out_dir, settings, verbose=verbose, callbacks=callbacks))
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
            checkpoint.check_trained_with(start[1], trained_with(config, settings), source)
        return _guarded_run(Run(config, out_dir, settings, verbose=verbose, callbacks=callbacks, start=start))


def _guarded_run(run):
    """`_run`, with Ctrl-C or SIGTERM at any moment (also while saving) reported as `TrainingInterrupted`,
    and a full disk as one line naming the path."""
    try:
        return _run(run)
    except TrainingInterrupted:
        raise
    except KeyboardInterrupt:
        latest = checkpoint.latest(run.out_dir)
        raise TrainingInterrupted(run.out_dir, latest[0] if latest else 0) from None
    except OSError as error:
        if error.errno not in run_folder.DISK_FULL:
            raise
        raise run_folder.write_failed(error, error.filename or run.out_dir, run.out_dir) from None


def _run(run):
    """Calls the phases of `run` in order; the dtype policy and the distribution end whatever happens."""
    run.prepare()
    try:
        run.build()
        run.restore()
        run.fit()
        run.save_generators()
    finally:
        run.close()
    run.write_preset()
    if run.settings["export_onnx"]:
        path = _export(run.generator, os.path.join(run.out_dir, "generator.onnx"), run.files.get("generator"))
        if path is not None:
            run.files["onnx"] = path
    # The run is complete: nothing left to resume.
    return run.finish()


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
    from ganzoo.backends import driver

    if not driver.onnx_export_in_process():
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
