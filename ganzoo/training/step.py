"""The GAN's train step, written once in `keras.ops`: critic updates, then one generator update.

```
train_step(batch)                        # batch = images, or (images, labels)
  for k in range(discriminator_steps):   # each critic step sees its own real batch
      z ~ N(0, I)                        # noise from the GAN's SeedGenerator
      d_loss = loss_d(D(x_real), D(G(z)))  [+ gp_weight * gradient_penalty]
      update D only                      # G's weights untouched
  z ~ N(0, I)
  g_loss = loss_g(D(G(z)))
  update G only                          # D's trainable weights untouched
  return {"d_loss", "g_loss", "d_real", "d_fake", ["gp"], ["r1"]}
```

Each update goes through `ganzoo.training.gradients.minimize`, the backend
driver's; under `tf.distribute` the noise is drawn for the global batch and
each replica keeps its rows (`ganzoo.training.distribution`).
"""

import keras
from keras import ops

from ganzoo.models import describe as networks
from ganzoo.training import augment, distribution, gradients, inputs
from ganzoo.training.losses import get_loss, gradient_penalty_from_gradients, r1_penalty_from_gradients

# Losses whose logits read as probabilities through a sigmoid (for the logged d_real and d_fake).
BCE_LOSSES = ("non_saturating", "minimax")


def network_inputs(x, labels):
    """A network's input: `x`, or `[x, labels]` for a conditional GAN."""
    return x if labels is None else [x, labels]


def unpack(gan, data):
    """`(images, labels)` of one dataset element, checked against the GAN, as float32 and int32 ids."""
    images, labels = inputs.split_element(data)
    inputs.check_batch_structure(images, labels, gan.image_shape, gan.num_classes)
    if labels is not None:
        labels = gradients.check_labels(ops.reshape(ops.cast(labels, "int32"), (-1,)), gan.num_classes)
    return ops.cast(images, "float32"), labels


def global_draw(gan, draw, batch, shape):
    """Draws `(batch * replicas, *shape)` numbers and returns this replica's rows (see `ganzoo.training.distribution`)."""
    return distribution.replica_rows(draw((batch * distribution.num_replicas(), *shape), seed=gan.seed_generator))


def _output(gan, logits):
    return ops.sigmoid(logits) if gan.loss_name in BCE_LOSSES else logits


def augmented(gan, images):
    """`images` through the GAN's DiffAugment policy, with parameters drawn for the global batch."""
    if not gan.augment_policy:
        return images
    batch = ops.shape(images)[0]
    uniform = lambda shape: global_draw(gan, keras.random.uniform, batch, shape[1:])
    integers = lambda shape, low, high: global_draw(
        gan, lambda s, seed: keras.random.randint(s, low, high, seed=seed), batch, shape[1:]
    )
    parameters = augment.draw_parameters(uniform, integers, batch, gan.image_shape, gan.augment_policy)
    probability = gan.augment_probability if gan.ada_target is None else ops.convert_to_tensor(gan.augment_p)
    return augment.augment(images, gan.augment_policy, parameters, probability)


def discriminator_loss(gan, real_images, labels):
    """The critic's loss on one real batch and fresh fakes; returns `(loss, (d_real, d_fake, gp, r1))`."""
    batch = ops.shape(real_images)[0]
    z = global_draw(gan, keras.random.normal, batch, (gan.latent_dim,))
    fake_images = ops.stop_gradient(gan.generator(network_inputs(z, labels), training=True))
    # DiffAugment: the discriminator sees (and the penalty is taken on) augmented real and fake images alike.
    real_images, fake_images = augmented(gan, real_images), augmented(gan, fake_images)
    real_logits = gan.discriminator(network_inputs(real_images, labels), training=True)
    fake_logits = gan.discriminator(network_inputs(fake_images, labels), training=True)
    loss = get_loss(gan.loss_name).discriminator_loss(
        real_logits, fake_logits, 1.0 - gan.label_smoothing, gan.fake_label_smoothing
    )
    loss = loss + networks.network_losses(gan.discriminator)  # the user's regularizers, if any
    gp = ops.zeros((), "float32")
    if gan.gradient_penalty_weight > 0:
        # One interpolation weight per sample, U[0, 1] (Gulrajani et al., algorithm 1).
        alpha = global_draw(gan, keras.random.uniform, batch, (1, 1, 1))
        interpolated = real_images + alpha * (fake_images - real_images)  # (batch, H, W, C)
        grads = gradients.input_gradients(
            lambda x: gan.discriminator(network_inputs(x, labels), training=True), interpolated
        )
        gp = gradient_penalty_from_gradients(grads)
        loss = loss + gan.gradient_penalty_weight * gp
    r1 = ops.zeros((), "float32")
    if gan.r1_weight > 0:
        r1 = lazy_r1(gan, real_images, labels)
        loss = loss + (0.5 * gan.r1_weight * gan.r1_interval) * r1
    real_sign = ops.mean(ops.sign(ops.cast(real_logits, "float32")))  # ADA's overfitting heuristic r_t
    return loss, (_output(gan, real_logits), _output(gan, fake_logits), gp, r1, real_sign)


def adapt_probability(gan, real_sign, images):
    """ADA's controller: p moves by sign(r_t - target) * images / (ada_kimg * 1000), clipped to [0, 1]."""
    step = ops.sign(real_sign - gan.ada_target) * (images / (gan.ada_kimg * 1000.0))
    gan.augment_p.assign(ops.clip(ops.convert_to_tensor(gan.augment_p) + step, 0.0, 1.0))


def lazy_r1(gan, real_images, labels):
    """R1, mean_i ||dD/dx(real_i)||^2, on every `r1_interval`-th train step; 0 on the others."""

    def penalty():
        critic = lambda x: gan.discriminator(network_inputs(x, labels), training=True)
        return r1_penalty_from_gradients(gradients.input_gradients(critic, real_images))

    if gan.r1_interval == 1:
        return penalty()
    due = ops.equal(ops.mod(ops.convert_to_tensor(gan.optimizer.iterations, "int64"), gan.r1_interval), 0)
    return ops.cond(due, penalty, lambda: ops.zeros((), "float32"))


def generator_loss(gan, batch, labels):
    """The generator's loss on `batch` fresh fakes; returns `(loss, None)`."""
    z = global_draw(gan, keras.random.normal, batch, (gan.latent_dim,))
    fake_images = augmented(gan, gan.generator(network_inputs(z, labels), training=True))
    fake_logits = gan.discriminator(network_inputs(fake_images, labels), training=True)
    return get_loss(gan.loss_name).generator_loss(fake_logits) + networks.network_losses(gan.generator), None


def train_step(gan, data):
    """One alternating update on one dataset element; updates the GAN's metrics and returns their results."""
    images, labels = unpack(gan, data)
    # Under tf.distribute: split the global batch as one device would, then keep this replica's rows.
    batches, batch = inputs.critic_batches(
        distribution.gather(images), distribution.gather(labels), gan.discriminator_steps
    )
    batches = [(distribution.replica_rows(real), distribution.replica_rows(lab)) for real, lab in batches]
    batch = batch // distribution.num_replicas()
    d_vars = gan.discriminator.trainable_variables
    for real, step_labels in batches:
        d_loss, (d_real, d_fake, gp, r1, real_sign) = gradients.minimize(
            gan.d_optimizer, d_vars, lambda: discriminator_loss(gan, real, step_labels)
        )
    g_loss, _ = gradients.minimize(
        gan.g_optimizer, gan.generator.trainable_variables, lambda: generator_loss(gan, batch, step_labels)
    )
    gan.optimizer.iterations.assign_add(1)
    if gan.ada_target is not None:
        adapt_probability(gan, real_sign, batch * distribution.num_replicas())
    values = {
        "d_loss": d_loss,
        "g_loss": g_loss,
        "d_real": ops.mean(d_real),
        "d_fake": ops.mean(d_fake),
        "gp": gp,
        "r1": r1,
    }
    if gan.ada_target is not None:
        values["augment_p"] = ops.convert_to_tensor(gan.augment_p)
    trackers = {metric.name: metric for metric in gan.metrics}
    for name, tracker in trackers.items():
        tracker.update_state(values[name])
    return {name: tracker.result() for name, tracker in trackers.items()}
