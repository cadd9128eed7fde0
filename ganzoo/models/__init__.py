"""Generator and discriminator builders, one file per family."""

from ganzoo.models.dcgan import (
    dcgan_discriminator,
    dcgan_generator,
    label_channels,
    upsampling_plan,
)
from ganzoo.models.layers import LabelMap, OneHot
from ganzoo.networks import check_discriminator, describe_generator, infer_num_classes

__all__ = [
    "LabelMap",
    "OneHot",
    "check_discriminator",
    "dcgan_discriminator",
    "dcgan_generator",
    "describe_generator",
    "infer_num_classes",
    "label_channels",
    "upsampling_plan",
]
