"""Data-parallel training on the engines' own distribution: what a replica must do to match one device.

- JAX, `keras.distribution.DataParallel`: the train step is one SPMD program
  over the global batch (Keras shards the data and replicates the state), so
  means, noise and penalties are already global. Nothing to do.
- TensorFlow, `tf.distribute.MirroredStrategy`: Keras runs `train_step` once per replica on that replica's shard of the
  batch and sums the replicas' gradients. ganzoo's losses are means over
  the replica's shard, so each replica divides its loss by the replica count
  (`loss_scale`); Keras does the same for its own losses, privately.
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
"""

import keras
from keras import ops


def replica_context():
    """Returns `(replica_id, num_replicas)` of the replica running now: `(0, 1)` outside `tf.distribute`."""
    if keras.backend.backend() != "tensorflow":
        return 0, 1
    import tensorflow as tf

    if not tf.distribute.has_strategy() or tf.distribute.in_cross_replica_context():
        return 0, 1
    context = tf.distribute.get_replica_context()
    return context.replica_id_in_sync_group, context.num_replicas_in_sync


def num_replicas():
    """The number of replicas that sum their gradients (1 outside `tf.distribute`)."""
    return replica_context()[1]


def loss_scale():
    """The factor each replica's loss takes so that summed gradients are those of the global mean: 1 / replicas."""
    return 1.0 / num_replicas()


def gather(x):
    """The global batch: every replica's shard of `x`, concatenated in replica order (`x` itself on one replica)."""
    if x is None or num_replicas() == 1:
        return x
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    gathered = context.all_gather(x, axis=0)
    replicas = context.num_replicas_in_sync
    check = tf.debugging.assert_equal(
        tf.shape(gathered)[0] % replicas,
        0,
        message=f"Expected every global batch to divide evenly among the {replicas} replicas (e.g. "
        "dataset.batch(..., drop_remainder=True)). Received a batch that does not",
    )
    with tf.control_dependencies([check]):
        return tf.identity(gathered)


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
    if keras.backend.backend() != "jax" or keras.distribution.distribution() is None:
        return False
    import jax

    return jax.process_count() > 1


def check_compile(jit_compile):
    """Raises for `jit_compile=True` under `tf.distribute`, which Keras cannot run (XLA across replica devices)."""
    if jit_compile is not True or keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    if tf.distribute.has_strategy() and tf.distribute.get_strategy().num_replicas_in_sync > 1:
        raise ValueError(
            "Expected jit_compile=False (or 'auto') under a tf.distribute strategy: Keras compiles the whole "
            "replicated step with XLA, which fails across replica devices. Received: jit_compile=True. For XLA with "
            "data parallelism, use the JAX backend with keras.distribution.DataParallel (always compiled)."
        )


def data_parallel(replicas):
    """Starts data-parallel training for `ganzoo train --distribute`; returns `(scope, replicas, close)`.

    Build the GAN inside `scope` and fit it as usual; call `close()` after.

    Args:
        replicas: None for every local accelerator (GPU); an int N for N of
            them, or, on a machine without one, N host (CPU) devices, which
            is how the tests run it (TensorFlow: logical CPU devices, set up
            here before TensorFlow starts; JAX: the CLI sets
            `XLA_FLAGS=--xla_force_host_platform_device_count=N`).

    Raises:
        ValueError: no accelerator and no N, N larger than the devices
            there are, devices that can no longer be split (TensorFlow
            already started), or the PyTorch backend.
    """
    import contextlib

    if replicas is not None and (isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1):
        raise ValueError(f"Expected --distribute N with N >= 1. Received: {replicas!r}")
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            if replicas is not None and replicas > len(gpus):
                raise ValueError(f"Expected --distribute N <= {len(gpus)} (the local GPUs). Received: N={replicas}")
            devices = [f"/gpu:{i}" for i in range(replicas or len(gpus))]
        else:
            if replicas is None:
                raise ValueError(
                    "Expected a local GPU for --distribute. Received: none; pass --distribute N to train on N host "
                    "(CPU) devices instead (useful for testing; no faster)"
                )
            cpu = tf.config.list_physical_devices("CPU")[0]
            try:
                tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
            except RuntimeError:
                if len(tf.config.list_logical_devices("CPU")) != replicas:
                    raise ValueError(
                        f"Expected to split the CPU into {replicas} devices before TensorFlow starts. Received: it "
                        "has already started in this process; start a new one"
                    ) from None
            devices = [f"/cpu:{i}" for i in range(replicas)]
        strategy = tf.distribute.MirroredStrategy(devices)
        return strategy.scope(), strategy.num_replicas_in_sync, lambda: None
    if backend == "jax":
        import jax

        devices = jax.devices()
        if replicas is not None and replicas > len(devices):
            raise ValueError(
                f"Expected --distribute N <= {len(devices)} (the {devices[0].platform} devices JAX sees). "
                f"Received: N={replicas}"
            )
        if replicas is None and devices[0].platform == "cpu":
            raise ValueError(
                "Expected a local GPU or TPU for --distribute. Received: only the CPU; pass --distribute N"
            )
        chosen = devices[: replicas or len(devices)]
        previous = keras.distribution.distribution()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=chosen))
        return contextlib.nullcontext(), len(chosen), lambda: keras.distribution.set_distribution(previous)
    raise ValueError(
        f"Expected the tensorflow or jax backend for --distribute. Received: KERAS_BACKEND={backend!r}; PyTorch "
        "data parallelism (DDP) is not supported by ganzoo"
    )
