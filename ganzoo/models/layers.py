"""ganzoo 0.1's class-conditioning layers, kept so that files written by it keep loading.

New networks use Keras' own `CategoryEncoding` (see `dcgan.label_channels`),
so their files load with plain Keras, without ganzoo.
"""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="ganzoo")
class OneHot(layers.Layer):
    """Maps integer class labels `(batch,)` to one-hot vectors `(batch, num_classes)`.

    Args:
        num_classes: number of classes, an int >= 2.

    Example:
        >>> OneHot(3)(np.array([0, 2]))  # [[1, 0, 0], [0, 0, 1]]
    """

    def __init__(self, num_classes, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"Expected num_classes to be an int >= 2. Received: num_classes={num_classes!r}")
        self.num_classes = num_classes

    def call(self, labels):
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))  # (batch,)
        return ops.one_hot(labels, self.num_classes, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


@keras.saving.register_keras_serializable(package="ganzoo")
class LabelMap(layers.Layer):
    """Maps labels `(batch,)` to a one-hot channel per class `(batch, H, W, num_classes)`.

    `output[b, h, w, c] == one_hot(labels)[b, c]` for every pixel, so the
    discriminator can concatenate it to the image channels. (keras-io's
    conditional GAN instead repeated the one-hot vector into a band of rows.)

    Args:
        num_classes: number of classes, an int >= 2.
        height: image height, an int >= 1.
        width: image width, an int >= 1.
    """

    def __init__(self, num_classes, height, width, **kwargs):
        super().__init__(**kwargs)
        for arg, value, low in (("num_classes", num_classes, 2), ("height", height, 1), ("width", width, 1)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"Expected {arg} to be an int >= {low}. Received: {arg}={value!r}")
        self.num_classes = num_classes
        self.height = height
        self.width = width

    def call(self, labels):
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))  # (batch,)
        one_hot = ops.one_hot(labels, self.num_classes, dtype=self.compute_dtype)
        one_hot = ops.reshape(one_hot, (-1, 1, 1, self.num_classes))  # (batch, 1, 1, classes)
        return ops.tile(one_hot, (1, self.height, self.width, 1))  # (batch, H, W, classes)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, self.num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "height": self.height,
            "width": self.width,
        }
