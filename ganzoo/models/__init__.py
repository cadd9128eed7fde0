"""Generator and discriminator builders, one file per family."""

from ganzoo.models.dcgan import (
    dcgan_discriminator,
    dcgan_generator,
    describe_generator,
    upsampling_plan,
)
from ganzoo.models.layers import LabelMap, OneHot

__all__ = [
    "LabelMap",
    "OneHot",
    "dcgan_discriminator",
    "dcgan_generator",
    "describe_generator",
    "upsampling_plan",
]
