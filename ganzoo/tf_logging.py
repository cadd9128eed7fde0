"""Quiets TensorFlow's C++ start-up lines in the `ganzoo` CLI.

TensorFlow 2.21 prints its oneDNN banner (twice: once per shared library),
a CPU-features line and, on machines with CUDA libraries but no GPU,
`E0000 ... failed call to cuInit` straight to file descriptor 2, before its
own logging honours `TF_CPP_MIN_LOG_LEVEL`. To a user they read as
failures. The CLI imports TensorFlow once with descriptor 2 captured, drops
only those known start-up lines and passes every other line of the start
through; for the rest of the run it sets `TF_CPP_MIN_LOG_LEVEL=2` (C++
errors only).

A user's own `TF_CPP_MIN_LOG_LEVEL` wins: when it is set, nothing is
filtered (set it to 0 to see everything).
"""

import importlib.util
import os
import sys
import tempfile

# Set by the CLI when the log level is ganzoo's default rather than the user's, so that the
# CLI's own subprocesses (the ONNX export of `ganzoo train`) quiet TensorFlow too.
_MARKER = "GANZOO_DEFAULT_TF_LOG_LEVEL"

# Substrings of the start-up lines that are noise on a working install.
STARTUP_NOISE = (
    "All log messages before absl::InitializeLog() is called",
    "oneDNN custom operations are on",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions",
    "failed call to cuInit",
    "Unable to register cuDNN factory",
    "Unable to register cuFFT factory",
    "Unable to register cuBLAS factory",
    "computation placer already registered",
    "Could not find cuda drivers on your machine",
    "TF-TRT Warning: Could not find TensorRT",
)


def use_default_level():
    """Sets `TF_CPP_MIN_LOG_LEVEL=2` unless the user chose a level; returns whether start-up lines are filtered."""
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ and os.environ.get(_MARKER) != "1":
        return False
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    os.environ[_MARKER] = "1"
    return True


def _is_noise(line):
    return any(noise in line for noise in STARTUP_NOISE)


def import_tensorflow_quietly():
    """Imports TensorFlow and looks for devices with descriptor 2 captured; re-prints all but the start-up noise.

    Does nothing when TensorFlow is not installed (the base install) or
    when the user set their own `TF_CPP_MIN_LOG_LEVEL`.
    """
    if os.environ.get(_MARKER) != "1" or "tensorflow" in sys.modules:
        return
    if importlib.util.find_spec("tensorflow") is None:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # the device probe prints the cuInit line
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines() if line.strip() and not _is_noise(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr, flush=True)
