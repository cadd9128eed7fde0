"""Mixed precision: every variant trains under mixed_float16 (loss-scaled) and mixed_bfloat16."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers import (  # noqa: E402
    BATCH,
    VARIANTS,
    adam,
    all_finite,
    assert_weights_equal,
    compiled_gan,
    random_images,
    random_labels,
    run_steps,
    tensor,
    tiny_discriminator,
    tiny_generator,
    weights,
    weights_changed,
)


pytestmark = pytest.mark.backends


def _dtype(x):
    return keras.backend.standardize_dtype(x.dtype)


@pytest.fixture
def policy(request):
    """Sets the global dtype policy named by the test's `policy` parameter; restores float32."""
    keras.mixed_precision.set_global_policy(getattr(request, "param", "mixed_float16"))
    yield keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("float32")


def _real_batch(gan, n=BATCH):
    images = tensor(random_images(n))
    labels = None if gan.num_classes is None else tensor(random_labels(n, 0, gan.num_classes))
    return images, labels


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"], indirect=True)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_one_step_is_finite(variant, policy):
    """Built and compiled inside the policy; one fit step leaves finite logs and weights. Under
    mixed_float16 both optimizers are distinct LossScaleOptimizers (graph mode, where the
    skip-on-overflow branch is a compiled cond); bfloat16 needs no loss scaling, so none is
    added. To keep the suite fast, bfloat16 runs eagerly, and so does WGAN-GP, whose graph
    under mixed_float16 the overflow test below compiles."""
    gan = compiled_gan(variant, run_eagerly=policy == "mixed_bfloat16" or variant == "wgan_gp")
    assert gan.dtype_policy.name == policy
    assert gan.generator.layers[-1].compute_dtype == "float32"  # G's output layer
    scaled = isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert scaled == isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer) == (policy == "mixed_float16")
    assert gan.d_optimizer is not gan.g_optimizer
    g_before = weights(gan.generator.trainable_variables)
    logs = run_steps(gan, 1)
    assert all_finite(logs.values()), logs
    assert all_finite(weights(gan.generator.weights) + weights(gan.discriminator.weights))
    assert weights_changed(g_before, gan.generator.trainable_variables)
    assert int(gan.d_optimizer.iterations.numpy()) == gan.discriminator_steps  # no step skipped
    assert int(gan.g_optimizer.iterations.numpy()) == 1


@pytest.mark.parametrize("variant", ["wgan_gp", "cgan"])
def test_logits_losses_and_penalty_are_float32(variant, policy):
    gan = compiled_gan(variant)
    images, labels = _real_batch(gan)
    inputs = images if labels is None else [images, labels]
    assert _dtype(gan.discriminator(inputs, training=True)) == "float32"
    d_loss, (d_real, d_fake, gp, r1, real_sign) = gan._d_loss(images, labels)
    g_loss, _ = gan._g_loss(BATCH, labels)
    for value in (d_loss, d_real, d_fake, gp, r1, real_sign, g_loss):
        assert _dtype(value) == "float32"
    # Inside, the networks really compute in float16.
    assert gan.discriminator.get_layer("down0").compute_dtype == "float16"


@pytest.mark.parametrize("variant", ["dcgan", "wgan_gp"])
def test_overflow_skips_only_the_discriminator_update(variant, policy, monkeypatch):
    """An inf pixel in the first real batch makes that critic step's gradients non-finite. Its
    LossScaleOptimizer skips the step (D's weights untouched, D's iteration count not advanced)
    and halves D's loss scale. The other critic steps and the G step don't see that batch (G's
    loss involves only fakes), so they update normally: G's weights change and stay finite and
    G's loss scale is unchanged. (With the batch-norm DCGAN discriminator the inf batch also
    poisons D's BatchNorm moving statistics, which training-mode steps don't read.)"""
    gan = compiled_gan(variant, d_optimizer=adam(), g_optimizer=adam())
    k = gan.discriminator_steps
    images = random_images(k * BATCH)
    images[0, 3, 5, 0] = np.inf  # first critic batch only
    # fit refuses non-finite pixels where data enters; here the inf stands for an overflow inside the step.
    monkeypatch.setattr("ganzoo.training.inputs.check_values", lambda *args, **kwargs: None)
    d_scale = float(gan.d_optimizer.dynamic_scale.numpy())
    g_scale = float(gan.g_optimizer.dynamic_scale.numpy())
    d_before = weights(gan.discriminator.trainable_variables)
    g_before = weights(gan.generator.trainable_variables)
    run_steps(gan, 1, data=images)

    assert float(gan.d_optimizer.dynamic_scale.numpy()) == d_scale / 2
    assert int(gan.d_optimizer.iterations.numpy()) == k - 1
    if k == 1:
        assert_weights_equal(d_before, gan.discriminator.trainable_variables)
    else:
        assert weights_changed(d_before, gan.discriminator.trainable_variables)
    assert all_finite(weights(gan.discriminator.trainable_variables))

    assert float(gan.g_optimizer.dynamic_scale.numpy()) == g_scale
    assert int(gan.g_optimizer.iterations.numpy()) == 1
    assert weights_changed(g_before, gan.generator.trainable_variables)
    assert all_finite(weights(gan.generator.trainable_variables))


def _deltas(variant, policy_name):
    """Weight changes of one train step built under `policy_name`, from the same initial
    weights and noise seed. SGD, so the update is proportional to the unscaled gradient."""
    keras.mixed_precision.set_global_policy(policy_name)
    try:
        gan = compiled_gan(
            variant, d_optimizer=keras.optimizers.SGD(0.01), g_optimizer=keras.optimizers.SGD(0.1), run_eagerly=True
        )
    finally:
        keras.mixed_precision.set_global_policy("float32")
    nets = (gan.discriminator, gan.generator)
    before = [weights(net.trainable_variables) for net in nets]
    run_steps(gan, 1)
    return before, [
        np.concatenate([(new - old).ravel() for old, new in zip(old_weights, weights(net.trainable_variables))])
        for old_weights, net in zip(before, nets)
    ]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_mixed_float16_update_matches_float32(variant):
    """One train step under mixed_float16 vs float32, same initial weights, data and noise.

    Tolerances (relative L2 error of the weight change): D 5e-2 and G 2e-1, with the size of
    G's update within 5%. Measured: D <= 2e-2; G 4e-2..7e-2 (G's gradient is taken through the
    freshly updated D and inherits its float16 round-off; with D frozen it is <= 2e-2). A
    missing `scale_loss` (updates 2^15 too small) or a double scaling gives an error of ~1.
    """
    (d32_before, g32_before), (d32, g32) = _deltas(variant, "float32")
    (d16_before, g16_before), (d16, g16) = _deltas(variant, "mixed_float16")
    for a, b in zip(d32_before + g32_before, d16_before + g16_before, strict=True):
        np.testing.assert_array_equal(a, b)  # same starting point
    d_error = np.linalg.norm(d16 - d32) / np.linalg.norm(d32)
    g_error = np.linalg.norm(g16 - g32) / np.linalg.norm(g32)
    assert d_error < 5e-2, d_error
    assert g_error < 2e-1, g_error
    assert 0.95 < np.linalg.norm(g16) / np.linalg.norm(g32) < 1.05


def test_loss_scaling_follows_the_networks_policies_not_the_wrappers():
    """Networks built under mixed_float16 inside a GAN built under float32 get loss scaling; a
    float32 pair inside a GAN built under mixed_float16 gets none. A float16 discriminator
    alone scales both (G's gradient flows through D too)."""
    from ganzoo.training.gan import GAN
    from helpers import LATENT_DIM

    def pair(g_policy, d_policy):
        keras.mixed_precision.set_global_policy(g_policy)
        generator = tiny_generator()
        keras.mixed_precision.set_global_policy(d_policy)
        discriminator = tiny_discriminator()
        keras.mixed_precision.set_global_policy("float32")
        return generator, discriminator

    def scaled(g_policy, d_policy, wrapper_policy):
        generator, discriminator = pair(g_policy, d_policy)
        keras.mixed_precision.set_global_policy(wrapper_policy)
        try:
            gan = GAN(generator, discriminator, latent_dim=LATENT_DIM)
            gan.compile(adam(), adam())
        finally:
            keras.mixed_precision.set_global_policy("float32")
        return tuple(isinstance(o, keras.optimizers.LossScaleOptimizer) for o in (gan.d_optimizer, gan.g_optimizer))

    assert scaled("mixed_float16", "mixed_float16", "float32") == (True, True)
    assert scaled("float32", "float32", "mixed_float16") == (False, False)
    assert scaled("mixed_float16", "float32", "float32") == (False, True)
    assert scaled("float32", "mixed_float16", "float32") == (True, True)
    assert scaled("mixed_bfloat16", "mixed_bfloat16", "float32") == (False, False)
