"""Balance diagnostics: is the discriminator winning so hard that the generator stops learning?

With the cross-entropy losses, `d_real` and `d_fake` are the
discriminator's mean probabilities that real and fake images are real. At
the game's equilibrium both are 0.5 (Goodfellow et al., 2014, proposition
1). A `d_fake` near 0 for a whole epoch means the discriminator rejects
every fake with certainty; the minimax generator loss then has no
gradient, and even the non-saturating one learns from a discriminator that
has stopped giving useful directions. `BalanceMonitor` warns when that
happens; `MetricsLog` draws the 0.5 line next to `d_real` and `d_fake`.
"""

import sys
import warnings


try:  # the base install has no Keras: say which extra brings it
    import keras
except ImportError as error:
    from ganzoo.install_hints import training_import_error

    raise training_import_error("ganzoo.training.balance", error) from None

# Losses whose d_real / d_fake are probabilities (sigmoid of the logits).
PROBABILITY_LOSSES = ("non_saturating", "minimax")


class DiscriminatorSaturationWarning(UserWarning):
    """The discriminator rejected the fakes with near certainty for a whole epoch."""


class BalanceMonitor(keras.callbacks.Callback):
    """Warns when the discriminator saturates: the epoch's mean `d_fake` below `threshold`.

    Only meaningful for the cross-entropy losses (`d_fake` a probability);
    for other losses it does nothing. Each warning is printed to stderr
    (the run log) and raised as a `DiscriminatorSaturationWarning`, and the
    epochs it fired on are kept in `saturated_epochs`.

    Args:
        threshold: the `d_fake` level below which the discriminator counts
            as saturated (0.01: it calls 99% of fakes fake).

    Example:
        >>> gan.fit(data, epochs=10, callbacks=[ganzoo.training.balance.BalanceMonitor()])
    """

    def __init__(self, threshold=0.01):
        super().__init__()
        if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0 < threshold < 0.5:
            raise ValueError(f"Expected threshold in (0, 0.5). Received: threshold={threshold!r}")
        self.threshold = float(threshold)
        self.saturated_epochs = []

    def on_epoch_end(self, epoch, logs=None):
        if getattr(self.model, "loss_name", None) not in PROBABILITY_LOSSES:
            return
        d_fake = (logs or {}).get("d_fake")
        if d_fake is None or not float(d_fake) < self.threshold:
            return
        self.saturated_epochs.append(epoch + 1)
        message = (
            f"epoch {epoch + 1}: the discriminator rejects the fakes with near certainty (mean d_fake "
            f"{float(d_fake):.4f} < {self.threshold}; equilibrium is 0.5), so the generator's gradients carry "
            "little signal. Usual cures: label smoothing, a smaller discriminator learning rate, spectral norm."
        )
        print(f"ganzoo: warning: {message}", file=sys.stderr)
        warnings.warn(message, DiscriminatorSaturationWarning, stacklevel=2)
