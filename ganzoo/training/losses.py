"""Adversarial losses and the gradient-penalty formula, in pure `keras.ops`.

Every loss takes the discriminator's raw outputs (logits, or critic values
for the Wasserstein loss), casts them to float32 and returns a float32
scalar. A loss is a pair: `discriminator_loss(real, fake, real_target,
fake_target)` and `generator_loss(fake)`. `get_loss(name)` is the one resolver from a name to
that pair.
"""

import collections

from ganzoo.client.loss_names import LOSS_NAMES, TARGET_LOSSES

try:  # the base install has no Keras: say which extra brings it
    from keras import ops
except ImportError as error:
    from ganzoo.install_hints import training_import_error

    raise training_import_error("ganzoo.training.losses", error) from None

AdversarialLoss = collections.namedtuple("AdversarialLoss", ["discriminator_loss", "generator_loss", "smoothable"])


def _f32(x):
    return ops.cast(x, "float32")


def non_saturating_d_loss(real, fake, real_target=1.0, fake_target=0.0):
    """Binary cross-entropy discriminator loss on logits.

    Formula:
        `L_D = mean(t * softplus(-r) + (1 - t) * softplus(r))
             + mean(s * softplus(-f) + (1 - s) * softplus(f))`
        where `r`, `f` are logits on real and fake images, `t` the real
        target (1, or e.g. 0.9 with label smoothing) and `s` the fake target
        (0, or e.g. 0.1 with two-sided smoothing).

    Reference: Goodfellow et al., 2014, "Generative Adversarial Nets";
    Salimans et al., 2016, section 3.4 (they smooth only the real target:
    a positive fake target rewards the discriminator for rating fakes as
    partly real, which keeps bad samples where they are).
    """
    real, fake = _f32(real), _f32(fake)
    t = ops.cast(real_target, "float32")
    s = ops.cast(fake_target, "float32")
    real_term = t * ops.softplus(-real) + (1.0 - t) * ops.softplus(real)
    fake_term = s * ops.softplus(-fake) + (1.0 - s) * ops.softplus(fake)
    return ops.mean(real_term) + ops.mean(fake_term)


def non_saturating_g_loss(fake):
    """Non-saturating generator loss, `mean(-log(sigmoid(f)))`.

    Formula:
        `L_G = mean(softplus(-f))`. Its gradient in `f` is `-sigmoid(-f)`,
        about -1 when D confidently rejects the fakes (f << 0), so G still
        learns early in training.

    Reference: Goodfellow et al., 2014, section 3.
    """
    return ops.mean(ops.softplus(-_f32(fake)))


def minimax_g_loss(fake):
    """The original (saturating) minimax generator loss, `mean(log(1 - sigmoid(f)))`.

    Formula:
        `L_G = -mean(softplus(f))`. Its gradient vanishes when f << 0; kept
        for comparison with the non-saturating loss.

    Reference: Goodfellow et al., 2014, eq. 1.
    """
    return -ops.mean(ops.softplus(_f32(fake)))


def least_squares_d_loss(real, fake, real_target=1.0, fake_target=0.0):
    """Least-squares discriminator loss with targets a=0 (fake), b=1 (real).

    Formula:
        `L_D = 0.5 * mean((r - b)^2) + 0.5 * mean((f - a)^2)`, where `b`
        is the real target (1, or lower with smoothing) and `a` the fake
        target (0, or higher with two-sided smoothing).

    Reference: Mao et al., 2017, "Least Squares Generative Adversarial
    Networks", eq. 2 with a=0, b=1, c=1.
    """
    real, fake = _f32(real), _f32(fake)
    b = ops.cast(real_target, "float32")
    a = ops.cast(fake_target, "float32")
    return 0.5 * ops.mean(ops.square(real - b)) + 0.5 * ops.mean(ops.square(fake - a))


def least_squares_g_loss(fake):
    """Least-squares generator loss with target c=1.

    Formula:
        `L_G = 0.5 * mean((f - c)^2)`, c = 1.

    Reference: Mao et al., 2017, eq. 2.
    """
    return 0.5 * ops.mean(ops.square(_f32(fake) - 1.0))


def wasserstein_d_loss(real, fake, real_target=1.0, fake_target=0.0):
    """Wasserstein critic loss (the penalty is added separately).

    Formula:
        `L_D = mean(f) - mean(r)`. The targets are accepted for a uniform
        signature and ignored (label smoothing is refused for this loss).

    Reference: Arjovsky et al., 2017, "Wasserstein GAN"; Gulrajani et al.,
    2017, "Improved Training of Wasserstein GANs", algorithm 1.
    """
    del real_target, fake_target
    return ops.mean(_f32(fake)) - ops.mean(_f32(real))


def wasserstein_g_loss(fake):
    """Wasserstein generator loss.

    Formula:
        `L_G = -mean(f)`.

    Reference: Arjovsky et al., 2017.
    """
    return -ops.mean(_f32(fake))


def hinge_d_loss(real, fake, real_target=1.0, fake_target=0.0):
    """Hinge discriminator loss.

    Formula:
        `L_D = mean(relu(1 - r)) + mean(relu(1 + f))`. The targets are
        ignored (label smoothing is refused for this loss).

    Reference: Lim & Ye, 2017, "Geometric GAN"; Miyato et al., 2018.
    """
    del real_target, fake_target
    return ops.mean(ops.relu(1.0 - _f32(real))) + ops.mean(ops.relu(1.0 + _f32(fake)))


def gradient_penalty_from_gradients(gradients, epsilon=1e-12):
    """The WGAN-GP penalty, given the critic's gradients at interpolates.

    Formula:
        `gp = mean_i (sqrt(sum_{h,w,c} g_i^2 + epsilon) - 1)^2`, with the
        norm taken over every non-batch axis. `epsilon` keeps the sqrt
        differentiable where the gradient is exactly zero (sqrt'(0) is inf,
        which gives NaN updates; keras-io WGAN-GP issue #910).

    Reference: Gulrajani et al., 2017, eq. 3.

    Args:
        gradients: tensor `(batch, ...)`, dD/dx at the interpolated images.
        epsilon: small positive constant inside the square root.

    Returns:
        A float32 scalar.
    """
    g = _f32(gradients)
    squared = ops.sum(ops.square(ops.reshape(g, (ops.shape(g)[0], -1))), axis=1)
    norm = ops.sqrt(squared + epsilon)  # (batch,)
    return ops.mean(ops.square(norm - 1.0))


# The names and which losses have targets to smooth are declared in the zoo client; here each gets its functions.
def r1_penalty_from_gradients(gradients):
    """The R1 penalty, given the discriminator's gradients at real images.

    Formula:
        `r1 = mean_i sum_{h,w,c} g_i^2`; the loss adds `gamma / 2 * r1`.

    Reference: Mescheder et al., 2018, "Which Training Methods for GANs do
    actually Converge?", eq. 9.

    Args:
        gradients: tensor `(batch, ...)`, dD/dx at the real images.

    Returns:
        A float32 scalar.
    """
    g = _f32(gradients)
    return ops.mean(ops.sum(ops.square(ops.reshape(g, (ops.shape(g)[0], -1))), axis=1))


_FUNCTIONS = {
    "non_saturating": (non_saturating_d_loss, non_saturating_g_loss),
    "minimax": (non_saturating_d_loss, minimax_g_loss),
    "least_squares": (least_squares_d_loss, least_squares_g_loss),
    "wasserstein": (wasserstein_d_loss, wasserstein_g_loss),
    "hinge": (hinge_d_loss, wasserstein_g_loss),
}
LOSSES = {name: AdversarialLoss(*_FUNCTIONS[name], name in TARGET_LOSSES) for name in LOSS_NAMES}


def get_loss(name):
    """Returns the `AdversarialLoss` pair registered under `name`.

    Args:
        name: one of `"non_saturating"`, `"minimax"`, `"least_squares"`,
            `"wasserstein"`, `"hinge"`.

    Raises:
        ValueError: for an unknown name; the message lists the valid ones.

    Example:
        >>> get_loss("least_squares").generator_loss(ops.ones((4, 1)))
    """
    if not isinstance(name, str) or name not in LOSSES:
        raise ValueError(f"Expected loss to be one of {sorted(LOSSES)}. Received: loss={name!r}")
    return LOSSES[name]
