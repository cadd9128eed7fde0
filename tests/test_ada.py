"""ADA's controller (adaptive augmentation probability): its update rule, clipping, logging and saving."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ganzoo.training.gan import GAN  # noqa: E402
from helpers import BATCH, IMAGE_SHAPE, LATENT_DIM, adam, linear_critic, run_steps, tiny_generator  # noqa: E402

SIZE = int(np.prod(IMAGE_SHAPE))


def _gan(bias, run_eagerly=True, **kwargs):
    """A frozen linear critic whose logits all have the sign of `bias` (zero kernel): r_t = sign(bias)."""
    keras.utils.set_random_seed(0)
    critic = linear_critic(np.zeros(SIZE), bias)
    kwargs = {"augment": "translation,cutout", "ada_target": 0.6, "ada_kimg": 0.04, **kwargs}  # 40 images: 0 -> 1
    gan = GAN(tiny_generator(), critic, latent_dim=LATENT_DIM, loss="wasserstein", seed=1, **kwargs)
    gan.compile(keras.optimizers.SGD(0.0), adam(), run_eagerly=run_eagerly)
    return gan


def _p(gan):
    return float(keras.ops.convert_to_numpy(gan.augment_p))


@pytest.mark.backends
@pytest.mark.parametrize("run_eagerly", [True, False])
def test_p_rises_while_the_critic_is_sure_of_the_reals_and_falls_otherwise(run_eagerly):
    """r_t = mean(sign(D(real))) = +1 > 0.6: p += BATCH / 40 per step, up to 1; r_t = -1: down to 0."""
    up = _gan(0.5, run_eagerly, augment_probability=0.5)
    logs = run_steps(up, 3)
    np.testing.assert_allclose(_p(up), 0.5 + 3 * BATCH / 40, rtol=1e-6)
    np.testing.assert_allclose(logs["augment_p"][0], np.mean([0.5 + k * BATCH / 40 for k in (1, 2, 3)]), rtol=1e-5)
    run_steps(up, 4)
    assert _p(up) == 1.0  # clipped
    down = _gan(-0.5, run_eagerly, augment_probability=0.15)
    run_steps(down, 1)
    np.testing.assert_allclose(_p(down), 0.15 - BATCH / 40, rtol=1e-5)
    run_steps(down, 1)
    assert _p(down) == 0.0


def test_p_is_saved_with_the_weights_and_old_files_still_load(tmp_path):
    gan = _gan(0.5, augment_probability=0.25)
    run_steps(gan, 1)
    gan.save_weights(tmp_path / "ada.weights.h5")
    again = _gan(0.5, augment_probability=0.9)
    again.load_weights(tmp_path / "ada.weights.h5")
    assert _p(again) == _p(gan) == pytest.approx(0.25 + BATCH / 40)
    plain = GAN(tiny_generator(), linear_critic(np.zeros(SIZE)), latent_dim=LATENT_DIM, loss="wasserstein", seed=1)
    assert not hasattr(plain, "augment_p")  # without ADA the weights files are as before
    assert len(plain.weights) == len(gan.weights) - 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(ada_target=1.0), r"^Expected ada_target to be None or a float in \(0, 1\)\. Received: ada_target=1\.0$"),
        (dict(ada_kimg=0), r"^Expected ada_kimg to be a finite float > 0\. Received: ada_kimg=0$"),
        (dict(augment=None), r"^Expected an augment policy to adapt with ada_target\. Received: augment=None$"),
    ],
)
def test_bad_ada_settings_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _gan(0.5, **kwargs)


def test_ada_settings_round_trip_and_reach_presets():
    from ganzoo.client.preset_schema import validate_config
    from ganzoo.training.config import default_config

    again = GAN.from_config(_gan(0.5, ada_kimg=2.5).get_config())
    assert (again.ada_target, again.ada_kimg) == (0.6, 2.5)
    config = default_config("dcgan", epochs=1)
    assert (config["gan"]["ada_target"], config["gan"]["ada_kimg"]) == (None, 100.0)
    config["gan"].update(augment="translation", ada_target=0.6)
    validate_config(config)
    config["gan"]["ada_target"] = 1.5
    with pytest.raises(ValueError, match=r"gan\.ada_target"):
        validate_config(config)
