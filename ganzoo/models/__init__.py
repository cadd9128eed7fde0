"""Generator and discriminator builders, one file per family."""

try:  # the base install has no Keras: say which extra brings it
    import keras  # noqa: F401
except ImportError as error:
    from ganzoo.install_hints import training_import_error

    raise training_import_error("ganzoo.models", error) from None

from ganzoo.models.blocks import label_channels, upsampling_plan
from ganzoo.models.dcgan import dcgan_discriminator, dcgan_generator
from ganzoo.models.layers import LabelMap, OneHot
from ganzoo.models.resnet import resnet_discriminator, resnet_generator
from ganzoo.models.spectral_norm import SpectralNorm
from ganzoo.models.describe import check_discriminator, describe_generator, infer_num_classes

__all__ = [
    "LabelMap",
    "OneHot",
    "SpectralNorm",
    "check_discriminator",
    "dcgan_discriminator",
    "dcgan_generator",
    "describe_generator",
    "infer_num_classes",
    "label_channels",
    "resnet_discriminator",
    "resnet_generator",
    "upsampling_plan",
]
