"""The handler of `ganzoo train`: checks the arguments before TensorFlow loads, trains, and prints the run's files.

Argument errors come first, so that they do not wait for TensorFlow to
import; SIGTERM stops a run as Ctrl-C does (the last checkpoint stays).
"""

import contextlib
import os
import sys

from ganzoo import host_threads, tf_logging
from ganzoo.commands.train_config import check_resume_alone, command_line, resolve_config
from ganzoo.training.config import VARIANTS


def _configured_backend():
    """The Keras backend this process will use, read as Keras reads it (before Keras is imported)."""
    import json

    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json")) as f:
            return json.load(f).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def _distribute_setting(args):
    """`--distribute` as `train(distribute=...)` takes it; sets JAX's host device count before JAX starts."""
    if args.distribute is None:
        return None
    if args.distribute == "all":
        replicas = "all"
    else:
        try:
            replicas = int(args.distribute)
        except ValueError:
            replicas = 0
        if replicas < 1:
            raise ValueError(
                f"Expected --distribute N with an int N >= 1 (or no N: every GPU; put a bare --distribute after the "
                f"variant or preset name). Received: {args.distribute!r}"
            )
    backend = _configured_backend()
    if args.jit and backend == "tensorflow":
        raise ValueError(
            "Expected --jit or --distribute, not both, on TensorFlow: Keras cannot compile a tf.distribute step with "
            "XLA. Received: --jit --distribute. JAX compiles every step with XLA (KERAS_BACKEND=jax)"
        )
    return replicas


def _prepare_host_devices(replicas):
    """Splits the host into `replicas` devices where there is no GPU, before the backend starts (it cannot after)."""
    if replicas == "all":
        return
    backend = _configured_backend()
    if backend == "jax":
        host_threads.split_jax_host(replicas, os.environ)
    elif backend == "tensorflow":
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)


def _checked_out_dir(args):
    """The run folder of `args`, checked before TensorFlow loads (a folder holding another run is refused)."""
    from ganzoo.runs import run_folder

    if args.resume is not None:
        check_resume_alone(args)
        run_folder.claim(args.resume, resume=True)
        run_folder.read_record(args.resume)
        return args.resume
    if args.out is not None and not args.out.strip():
        raise ValueError(f"Expected --out to be a folder path. Received: --out {args.out!r}")
    # runs/<name>, where name is what resolve_config returns: the preset or variant, or a JSON file's stem.
    stem = os.path.splitext(os.path.basename(args.name or "dcgan"))[0]
    out_dir = os.path.join("runs", stem) if args.out is None else args.out
    if not args.overwrite and run_folder.existing_artefacts(out_dir):
        run_folder.claim(out_dir)  # raises, naming --resume/--overwrite, before TensorFlow loads
    return out_dir


@contextlib.contextmanager
def _sigterm_as_ctrl_c():
    """SIGTERM stops like Ctrl-C inside: the last checkpoint stays, the process exits."""
    import signal

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread (main() called from a thread): SIGTERM keeps its default
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def run_train(args):
    """Handler of `ganzoo train`."""
    from ganzoo.runs import run_folder

    # Argument errors first: they must not wait for TensorFlow to import.
    distribute = _distribute_setting(args)
    out_dir = _checked_out_dir(args)
    # A preset name or file resolves without Keras, so its errors come before TensorFlow loads too; a variant's
    # config is built by Keras (its optimizers, its networks' sizes), after.
    config = None
    if args.resume is None and (args.name or "dcgan") not in VARIANTS:
        config = resolve_config(args)[1]
    tf_logging.import_tensorflow_quietly()  # the argument checks above must not wait for it
    if distribute is None and args.resume is not None:
        distribute = run_folder.read_record(out_dir)[1].get("distribute")
    if distribute is not None:
        _prepare_host_devices(distribute)
    if config is None and args.resume is None:
        config = resolve_config(args)[1]
    from ganzoo.runs import run as train_module

    try:
        with _sigterm_as_ctrl_c():
            if args.resume is not None:
                result = train_module.resume(out_dir, verbose=args.verbose)
            else:
                result = train_module.train(
                    config,
                    out_dir,
                    verbose=args.verbose,
                    export_onnx=not args.no_export,
                    precision=args.precision or "float32",
                    jit=args.jit,
                    fd_every=args.fd_every,
                    command=command_line(args),
                    overwrite=args.overwrite,
                    distribute=distribute,
                )
    except train_module.TrainingInterrupted as error:
        print(f"ganzoo train: {error}", file=sys.stderr)
        return 130
    _print_result(result)
    return 1 if result["nan_guard"] is not None else 0


def _print_result(result):
    """Prints the run's summary line, the NaN guard's message if it tripped, and the files the run wrote."""
    files = result["files"]
    print(result["summary"])
    if result["nan_guard"] is not None:
        print(result["nan_guard"]["message"])
    if files.get("samples"):
        print(f"  {'samples:':<16} {files['samples'][-1]}")
    for key in ("generator", "generator_best", "onnx", "metrics_csv", "metrics_png", "config"):
        if files.get(key):
            print(f"  {key + ':':<16} {files[key]}")
