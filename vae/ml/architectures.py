"""Encoder/decoder pairs by name: small named builders, one pair per architecture.

Every builder takes (latent_dim, image_shape) with image_shape = (rows, cols), one
grey channel, rows and cols divisible by 4 (two stride-2 steps). Decoders use only
Dense, Reshape, Conv2D and Conv2DTranspose with relu, sigmoid or linear: the layers
the browser decoder implements.

Keras is imported inside the builders: the registry's names are read (e.g. by
TrainConfig.validate in the job manager) before TensorFlow may be imported. For the same
reason the Sampling layer, which subclasses a Keras layer, is defined on first use.
"""
import functools

DEFAULT_ARCH = "reference"


@functools.cache
def sampling_layer():
    """The Sampling layer class, registered with Keras as "vae>Sampling" when first asked for."""
    import keras
    from keras import layers, ops

    @keras.saving.register_keras_serializable(package="vae")
    class Sampling(layers.Layer):
        """z = mean + exp(0.5 * log_var) * eps, the reparameterisation trick."""

        def __init__(self, seed=None, **kwargs):
            super().__init__(**kwargs)
            self.seed = seed
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
            return z_mean + ops.exp(0.5 * z_log_var) * epsilon

        def get_config(self):
            return {**super().get_config(), "seed": self.seed}

    Sampling.__qualname__ = "Sampling"
    return Sampling


def __getattr__(name):  # `vae.ml.architectures.Sampling`, defined on first use
    if name == "Sampling":
        return sampling_layer()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _check_shape(image_shape):
    rows, cols = image_shape
    if rows % 4 or cols % 4:
        raise ValueError(f"image shape {image_shape}: rows and cols must be divisible by 4")
    return rows, cols


def _encoder_head(inputs, x, latent_dim):
    """z_mean, z_log_var and the sampled z on top of a feature vector `x`."""
    import keras
    from keras import layers
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = sampling_layer()(name="z")([z_mean, z_log_var])
    return keras.Model(inputs, [z_mean, z_log_var, z], name="encoder")


# -- reference: the blog post's model, exactly (on the post's 28x28 MNIST: encoder 69,076
# parameters, decoder 28,161)

def reference_encoder(latent_dim, image_shape):
    import keras
    from keras import layers
    rows, cols = _check_shape(image_shape)
    inputs = keras.Input(shape=(rows, cols, 1), name="image")
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(inputs)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    return _encoder_head(inputs, x, latent_dim)


def reference_decoder(latent_dim, image_shape):
    import keras
    from keras import layers
    rows, cols = _check_shape(image_shape)
    latent_inputs = keras.Input(shape=(latent_dim,), name="z")
    x = layers.Dense(rows // 4 * cols // 4 * 64, activation="relu")(latent_inputs)
    x = layers.Reshape((rows // 4, cols // 4, 64))(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", strides=2, padding="same")(x)
    return keras.Model(latent_inputs, outputs, name="decoder")


# -- large: deeper on both sides, parameters spent where compute is cheap.
# A 2-D code needs an MLP to unfold it before the convolutions, and Dense layers
# cost little time; convolutions at full size cost a lot, so the decoder's extra conv
# works at half size and only a 1-channel transpose conv runs at full size. About 365k
# parameters: with Adam's two slots per weight the .keras file stays under 5 MB.

def large_encoder(latent_dim, image_shape):
    import keras
    from keras import layers
    rows, cols = _check_shape(image_shape)
    inputs = keras.Input(shape=(rows, cols, 1), name="image")
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(inputs)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(96, activation="relu")(x)
    x = layers.Dense(64, activation="relu")(x)
    return _encoder_head(inputs, x, latent_dim)


def large_decoder(latent_dim, image_shape):
    import keras
    from keras import layers
    rows, cols = _check_shape(image_shape)
    latent_inputs = keras.Input(shape=(latent_dim,), name="z")
    x = layers.Dense(128, activation="relu")(latent_inputs)
    x = layers.Dense(192, activation="relu")(x)
    x = layers.Dense(rows // 4 * cols // 4 * 16, activation="relu")(x)
    x = layers.Reshape((rows // 4, cols // 4, 16))(x)
    x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2D(32, 3, activation="relu", padding="same")(x)
    outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", strides=2, padding="same")(x)
    return keras.Model(latent_inputs, outputs, name="decoder")


# -- mlp: Dense layers only, built for time to quality on a CPU.
# Large matrix products are what a CPU does best, and a 2-D code has little to unfold
# spatially: depth in both MLPs bought more per epoch than width or convolutions did
# (docs/performance.md, "Time to a good model"). A fifth of `reference`'s multiply-adds per training
# image, under 0.25M per decode, and 371k parameters (.keras with Adam's slots < 5 MB).
MLP_ENCODER_WIDTHS = (128, 128, 64)
MLP_DECODER_WIDTHS = (32, 64, 128, 256)


def mlp_encoder(latent_dim, image_shape):
    import keras
    from keras import layers
    rows, cols = _check_shape(image_shape)
    inputs = keras.Input(shape=(rows, cols, 1), name="image")
    x = layers.Flatten()(inputs)
    for width in MLP_ENCODER_WIDTHS:
        x = layers.Dense(width, activation="relu")(x)
    return _encoder_head(inputs, x, latent_dim)


def mlp_decoder(latent_dim, image_shape):
    import keras
    from keras import layers
    rows, cols = _check_shape(image_shape)
    latent_inputs = keras.Input(shape=(latent_dim,), name="z")
    x = latent_inputs
    for width in MLP_DECODER_WIDTHS:
        x = layers.Dense(width, activation="relu")(x)
    x = layers.Dense(rows * cols, activation="sigmoid")(x)
    outputs = layers.Reshape((rows, cols, 1))(x)
    return keras.Model(latent_inputs, outputs, name="decoder")


ARCHITECTURES = {
    "reference": (reference_encoder, reference_decoder),
    "large": (large_encoder, large_decoder),
    "mlp": (mlp_encoder, mlp_decoder),
}
# What each is built of, in the words the page's header uses for the active model
LAYER_KINDS = {"reference": "convolutional", "large": "convolutional", "mlp": "fully connected"}


def headline(arch, latent_dim):
    """'A convolutional variational autoencoder (reference) with a 2-D latent space'."""
    kind = LAYER_KINDS.get(arch, "")
    article = "An" if kind[:1] in "aeiou" else "A"  # '' (an unknown arch) reads "A variational…"
    return f"{article} {kind} variational autoencoder ({arch}) with a {latent_dim}-D latent space".replace("  ", " ")


def get_builders(arch):
    try:
        return ARCHITECTURES[arch]
    except KeyError:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}") from None


def default_image_shape():
    """(rows, cols) of the default dataset's images: what a model that does not record its
    image shape (saved before several datasets existed) was trained on."""
    from vae.data.datasets import get_dataset
    return get_dataset().image_shape


def build_encoder(arch=DEFAULT_ARCH, latent_dim=2, image_shape=None):
    """`arch`'s encoder for images of `image_shape` (None: the default dataset's)."""
    return get_builders(arch)[0](int(latent_dim), tuple(image_shape or default_image_shape()))


def build_decoder(arch=DEFAULT_ARCH, latent_dim=2, image_shape=None):
    return get_builders(arch)[1](int(latent_dim), tuple(image_shape or default_image_shape()))
