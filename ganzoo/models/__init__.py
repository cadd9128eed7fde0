"""Generator and discriminator builders, one file per family."""

from ganzoo.models.blocks import label_channels, upsampling_plan
from ganzoo.models.dcgan import dcgan_discriminator, dcgan_generator
from ganzoo.models.layers import LabelMap, OneHot
from ganzoo.models.resnet import resnet_discriminator, resnet_generator
from ganzoo.models.spectral_norm import SpectralNorm
from ganzoo.networks import check_discriminator, describe_generator, infer_num_classes

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
