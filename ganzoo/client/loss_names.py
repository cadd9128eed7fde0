"""The adversarial losses a preset may name, declared once for the zoo client and the Keras losses.

The preset schema checks `gan.loss` and label smoothing against this
declaration without importing Keras; `ganzoo.training.losses` gives each
name its pair of functions.
"""

# Each loss by name, and whether it has target labels for label smoothing to move: the losses without them (hinge,
# wasserstein) have none.
HAS_TARGETS = {
    "hinge": False,
    "least_squares": True,
    "minimax": True,
    "non_saturating": True,
    "wasserstein": False,
}
LOSS_NAMES = tuple(HAS_TARGETS)
TARGET_LOSSES = tuple(name for name, targets in HAS_TARGETS.items() if targets)
