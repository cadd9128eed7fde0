"""Data-parallel training on the engines' own distribution: what a replica must do to match one device.

- JAX, `keras.distribution.DataParallel`: the train step is one SPMD program
  over the global batch (Keras shards the data and replicates the state), so
  means, noise and penalties are already global. Nothing to do.
- TensorFlow, `tf.distribute` (`MirroredStrategy`, `MultiWorkerMirroredStrategy`):
  Keras runs `train_step` once per replica on that replica's shard of the
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
TensorFlow). With per-sample networks (no BatchNorm) one data-parallel step
equals one single-device step on the global batch, up to float summation order.
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

    return tf.distribute.get_replica_context().all_gather(x, axis=0)


def replica_rows(x):
    """This replica's rows of a global-batch tensor: rows `[r * b, (r + 1) * b)` with `b = rows / replicas`."""
    replica, replicas = replica_context()
    if x is None or replicas == 1:
        return x
    size = ops.shape(x)[0] // replicas
    start = ops.cast(replica, "int32") * size
    return ops.take(x, start + ops.arange(size), axis=0)


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
