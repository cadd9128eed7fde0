"""Data-parallel training on the engines' own distribution: what a replica must do to match one device.

- JAX, `keras.distribution.DataParallel`: the train step is one SPMD program
  over the global batch (Keras shards the data and replicates the state), so
  means, noise and penalties are already global. Nothing to do.
- TensorFlow, `tf.distribute.MirroredStrategy`: Keras runs `train_step` once per replica on that replica's shard of the
  batch and sums the replicas' gradients. ganzoo's losses are means over
  the replica's shard, so each replica divides its loss by the replica count
  (see `ganzoo.backends.tensorflow`); Keras does the same for its own losses, privately.
  Each replica would also draw the same noise from the mirrored
  `SeedGenerator`, so noise and penalty interpolation weights are drawn for
  the global batch and each replica takes its own rows (`replica_rows`): the
  replicas' noise is distinct, and it is exactly what one device draws. The
  real images are gathered (`gather`) before they are split into critic
  batches, so critic step `i` sees the same images as on one device.

BatchNorm computes its batch statistics per replica (as in most DCGAN code;
`keras.layers.BatchNormalization(synchronized=True)` synchronizes them on
TensorFlow), and random layers (Dropout) draw the same mask on every replica.
With per-sample networks without random layers, one data-parallel step
equals one single-device step on the global batch, up to float summation
order. The global batch must divide evenly among the replicas (an error
otherwise). Under float16 loss scaling, an overflow on one replica skips the
step on all of them, as on one device (Keras' `LossScaleOptimizer`; tested).
(`MultiWorkerMirroredStrategy` is not supported: Keras 3.15's `fit` fails
under it.)

What differs per backend (the replica context, the gather, the device
setup) is in the backend's driver (`ganzoo.backends`); this module holds
the arithmetic every backend shares.
"""

from keras import ops

from ganzoo.backends import driver


def replica_context():
    """Returns `(replica_id, num_replicas)` of the replica running now: `(0, 1)` outside `tf.distribute`."""
    return driver.replica_context()


def num_replicas():
    """The number of replicas that sum their gradients (1 outside `tf.distribute`)."""
    return replica_context()[1]


def gather(x):
    """The global batch: every replica's shard of `x`, concatenated in replica order (`x` itself on one replica)."""
    if x is None or num_replicas() == 1:
        return x
    return driver.gather(x)


def replica_rows(x):
    """This replica's rows of a global-batch tensor: rows `[r * b, (r + 1) * b)` with `b = rows / replicas`."""
    replica, replicas = replica_context()
    if x is None or replicas == 1:
        return x
    size = ops.shape(x)[0] // replicas
    start = ops.cast(replica, "int32") * size
    return ops.take(x, start + ops.arange(size), axis=0)


def hides_batch_size():
    """True where a `tf.data` map after `batch` would stop `fit`: JAX with a multi-process distribution.

    Keras then shards the pipeline across processes and must read its batch
    size off the graph, which TensorFlow cannot see through a map; ganzoo
    skips its in-pipeline value check there (the step's shape and dtype
    checks remain).
    """
    return driver.hides_batch_size()


def check_compile(jit_compile):
    """Raises for a `jit_compile` the backend cannot run the GAN step with.

    Raises:
        ValueError: `jit_compile=True` under a `tf.distribute` strategy
            (XLA across replica devices), or on PyTorch (Keras would
            `torch.compile` the step, which ganzoo does not support).
    """
    driver.check_compile(jit_compile)


def data_parallel(replicas):
    """Starts data-parallel training for `ganzoo train --distribute`; returns `(scope, replicas, close)`.

    Build the GAN inside `scope` and fit it as usual; call `close()` after.

    Args:
        replicas: None for every local accelerator (GPU); an int N for N of
            them, or, on a machine without one, N host (CPU) devices, which
            is how the tests run it (TensorFlow: logical CPU devices, set up
            here before TensorFlow starts; JAX: the CLI sets
            `XLA_FLAGS=--xla_force_host_platform_device_count=N` and
            sizes XLA's CPU thread pool so that the devices' all-reduces
            cannot deadlock, `ganzoo.host_threads`; a smaller pool warns).

    Raises:
        ValueError: no accelerator and no N, N larger than the devices
            there are, devices that can no longer be split (TensorFlow
            already started), or the PyTorch backend.
    """
    if replicas is not None and (isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1):
        raise ValueError(f"Expected --distribute N with N >= 1. Received: {replicas!r}")
    return driver.data_parallel(replicas)
