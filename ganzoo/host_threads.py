"""XLA's CPU thread pool for JAX host devices: how large it will be, and how large data parallelism needs it.

XLA's CPU client runs each device's part of a program on one thread of a pool of
`max(threads, devices)`, where `threads` is `PJRT_NPROC`, else `NPROC`, else the
cores this process may run on, read once when JAX starts. A part holds its
thread while it waits in an all-reduce for the other devices' parts, and a
launch that waits for a slot (up to 32 programs in flight per device) holds one
too. When `fit` dispatches steps ahead of slow ones (a loaded 2-core machine),
waiting launches take the pool, one device's part never gets a thread, and after
60 s XLA aborts the process ("Termination timeout for `all reduce ...`").

How many threads are enough was measured, not derived: with 2 devices and 300
steps dispatched ahead, a pool of 3 threads deadlocked and one of 4 did not
(tests/test_distribution.py reproduces the abort with 2). `threads_needed`
asks for 2 per device and 2 more. No JAX or Keras import here: this runs before
either starts.
"""

import os


def threads_needed(devices):
    """Threads XLA's CPU pool should have for a data-parallel step over `devices` host devices."""
    return 2 * devices + 2


def _positive_int(text):
    try:
        value = int(text)
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def _usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def pool_threads(environ=os.environ, devices=1):
    """The threads of XLA's CPU pool for a process started with `environ` and `devices` host devices."""
    chosen = _positive_int(environ.get("PJRT_NPROC")) or _positive_int(environ.get("NPROC")) or _usable_cores()
    return max(chosen, devices)


def split_jax_host(replicas, environ):
    """Sets `environ` so that JAX's CPU platform starts as `replicas` devices whose all-reduces cannot deadlock.

    Adds `--xla_force_host_platform_device_count=replicas` to XLA_FLAGS and, unless the user chose the pool's size
    (PJRT_NPROC or NPROC), sets PJRT_NPROC to the larger of the usable cores and `threads_needed(replicas)`. Only the
    CPU platform reads either, so GPUs are unaffected. Returns `environ`.
    """
    flags = environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={replicas}".strip()
    if not (_positive_int(environ.get("PJRT_NPROC")) or _positive_int(environ.get("NPROC"))):
        environ["PJRT_NPROC"] = str(max(_usable_cores(), threads_needed(replicas)))
    return environ
