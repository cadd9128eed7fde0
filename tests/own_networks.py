"""Networks a user writes without ganzoo: the Keras conditional-GAN example's style (an Embedding
for the label), built from plain Keras layers."""

import keras
from keras import layers


def embedding_generator(latent_dim, num_classes, image_shape=(16, 16, 1), width=32):
    z = keras.Input((latent_dim,), name="z")
    label = keras.Input((), dtype="int32", name="label")
    embedded = layers.Embedding(num_classes, 8)(label)  # (batch, 8)
    x = layers.Concatenate()([z, embedded])
    h, w = image_shape[0] // 4, image_shape[1] // 4
    x = layers.Dense(h * w * width)(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Reshape((h, w, width))(x)  # (batch, H/4, W/4, width)
    x = layers.Conv2DTranspose(width, 4, strides=2, padding="same")(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Conv2DTranspose(width // 2, 4, strides=2, padding="same")(x)
    x = layers.LeakyReLU(0.2)(x)
    image = layers.Conv2D(image_shape[-1], 3, padding="same", activation="tanh", dtype="float32")(x)
    return keras.Model([z, label], image, name="users_generator")


def embedding_discriminator(num_classes, image_shape=(16, 16, 1), width=32):
    image = keras.Input(image_shape, name="image")
    label = keras.Input((), dtype="int32", name="label")
    plane = layers.Embedding(num_classes, image_shape[0] * image_shape[1])(label)
    plane = layers.Reshape((image_shape[0], image_shape[1], 1))(plane)  # (batch, H, W, 1)
    x = layers.Concatenate()([image, plane])
    x = layers.Conv2D(width, 3, strides=2, padding="same")(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Conv2D(2 * width, 3, strides=2, padding="same")(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.GlobalMaxPooling2D()(x)
    logit = layers.Dense(1, dtype="float32")(x)
    return keras.Model([image, label], logit, name="users_discriminator")
