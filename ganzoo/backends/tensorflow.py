"""The TensorFlow driver: `tf.GradientTape` updates, `tf.distribute` replicas, TensorFlow's device probe.

- Gradients: one `tf.GradientTape` per update, and a nested tape for the
  gradient penalty, so the penalty is trained through.
- Distribution: under `tf.distribute.MirroredStrategy` Keras runs the train
  step once per replica and sums the replicas' gradients; each replica's
  loss takes 1/replicas (see `ganzoo.training.distribution`).
- Labels: graph-mode steps get assertion ops (XLA drops them; `GAN.fit`
  also checks labels where they enter).
"""

import contextlib

import tensorflow as tf

NAME = "tensorflow"


# -- gradients ----------------------------------------------------------------


def minimize(optimizer, variables, loss_fn):
    """Takes one optimizer step on `variables` for `loss_fn()`'s loss; see `ganzoo.training.gradients.minimize`."""
    with tf.GradientTape() as tape:
        loss, aux = loss_fn()
        # Under tf.distribute the replicas' gradients are summed: each takes 1/replicas of its shard's mean.
        scaled_loss = optimizer.scale_loss(loss * _loss_scale())
    grads = tape.gradient(scaled_loss, variables)
    optimizer.apply(grads, variables)
    return loss, aux


def input_gradients(fn, x):
    """Returns d(sum fn(x))/dx, differentiable again; see `ganzoo.training.gradients.input_gradients`."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return tape.gradient(y, x)


def train_step(model, step_fn, data):
    """Keras' `train_step(data)`: the stateful step itself."""
    return step_fn(data)


def state_kept_on_error(model):
    """Nothing to keep: TensorFlow's variables keep their values when `fit` fails."""
    return contextlib.nullcontext()


def host_values(x):
    """`x` as NumPy when it is an eager tensor in host memory, else None (symbolic, or on an accelerator)."""
    if isinstance(x, tf.Tensor) and tf.executing_eagerly() and hasattr(x, "numpy"):
        device = x.device or "CPU"
        return x.numpy() if "CPU" in device.upper() else None
    return None


def checked_labels(labels, num_classes, message):
    """Returns graph `labels` behind assertions that they lie in [0, num_classes) (XLA drops them).

    Eager labels on an accelerator pass unchecked (an eager assertion would copy them back every step).
    """
    if tf.executing_eagerly():
        return labels
    with tf.control_dependencies(
        [
            tf.debugging.assert_non_negative(labels, message=message),
            tf.debugging.assert_less(labels, tf.cast(num_classes, labels.dtype), message=message),
        ]
    ):
        return tf.identity(labels)


# -- distribution -----------------------------------------------------------------


def replica_context():
    """Returns `(replica_id, num_replicas)` of the replica running now: `(0, 1)` outside `tf.distribute`."""
    if not tf.distribute.has_strategy() or tf.distribute.in_cross_replica_context():
        return 0, 1
    context = tf.distribute.get_replica_context()
    return context.replica_id_in_sync_group, context.num_replicas_in_sync


def _loss_scale():
    """The factor each replica's loss takes so that summed gradients are those of the global mean: 1 / replicas."""
    return 1.0 / replica_context()[1]


def gather(x):
    """The global batch: every replica's shard of `x`, concatenated in replica order."""
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


def hides_batch_size():
    """False: Keras reads the batch size of a `tf.data` pipeline itself on TensorFlow."""
    return False


def check_compile(jit_compile):
    """Raises for `jit_compile=True` under `tf.distribute`, which Keras cannot run (XLA across replica devices)."""
    if jit_compile is not True:
        return
    if tf.distribute.has_strategy() and tf.distribute.get_strategy().num_replicas_in_sync > 1:
        raise ValueError(
            "Expected jit_compile=False (or 'auto') under a tf.distribute strategy: Keras compiles the whole "
            "replicated step with XLA, which fails across replica devices. Received: jit_compile=True. For XLA with "
            "data parallelism, use the JAX backend with keras.distribution.DataParallel (always compiled)."
        )


def data_parallel(replicas):
    """A `tf.distribute.MirroredStrategy` over the local GPUs, or `replicas` logical CPU devices; see
    `ganzoo.training.distribution.data_parallel`."""
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


# -- precision ----------------------------------------------------------------------


def accelerator():
    """`("gpu", compute_capability)` of the first GPU TensorFlow sees, or None; see
    `ganzoo.training.mixed_precision.accelerator`."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability")
    return "gpu", float(f"{capability[0]}.{capability[1]}") if capability else None


# -- export ----------------------------------------------------------------------


def onnx_export_in_process():
    """True: ganzoo's ONNX exporter (tf2onnx) needs the TensorFlow backend, which runs here."""
    return True
