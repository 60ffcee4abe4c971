"""The reference convolutional VAE, with small named builders.

Architecture (exactly the reference's):
  encoder: 28x28x1 → Conv2D(32,3,s2) → Conv2D(64,3,s2) → Flatten → Dense(16)
           → z_mean, z_log_var → Sampling
  decoder: Dense(7*7*64) → Reshape → Conv2DTranspose(32,3,s2) → Conv2DTranspose(1,3,s2,sigmoid)

Everything is a registered serializable layer or model, so `.keras` files load
with safe_mode=True: no Lambda layers, no pickle.
"""
import numpy as np
import keras
from keras import layers, ops

from vae.data import to_model_input
from vae.loss import KL_REDUCTIONS, vae_loss_terms

IMAGE_SHAPE = (28, 28, 1)


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


def build_encoder(latent_dim=2):
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(inputs)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling(name="z")([z_mean, z_log_var])
    return keras.Model(inputs, [z_mean, z_log_var, z], name="encoder")


def build_decoder(latent_dim=2):
    latent_inputs = keras.Input(shape=(latent_dim,), name="z")
    x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
    x = layers.Reshape((7, 7, 64))(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", strides=2, padding="same")(x)
    return keras.Model(latent_inputs, outputs, name="decoder")


@keras.saving.register_keras_serializable(package="vae")
class VAE(keras.Model):
    """Encoder + decoder trained on the reference loss; tracks the true -ELBO too."""

    METRIC_NAMES = ("loss", "reconstruction_loss", "kl_loss", "neg_elbo")

    def __init__(self, latent_dim=2, beta=1.0, kl_reduction="mean", **kwargs):
        super().__init__(**kwargs)
        if kl_reduction not in KL_REDUCTIONS:
            raise ValueError(f"kl_reduction must be one of {KL_REDUCTIONS}, got {kl_reduction!r}")
        self.latent_dim = int(latent_dim)
        self.beta = float(beta)
        self.kl_reduction = kl_reduction
        self.encoder = build_encoder(self.latent_dim)
        self.decoder = build_decoder(self.latent_dim)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.METRIC_NAMES}
        self._fast_encode = None
        self._fast_decode = None
        self.built = True  # the encoder and decoder are functional models, built above

    def build(self, input_shape=None):
        self.built = True

    def call(self, x, training=False):
        z_mean, z_log_var, z = self.encoder(x, training=training)
        return self.decoder(z, training=training)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def _loss_terms(self, x, training):
        z_mean, z_log_var, z = self.encoder(x, training=training)
        x_decoded = self.decoder(z, training=training)
        return vae_loss_terms(x, x_decoded, z_mean, z_log_var, self.kl_reduction, self.beta)

    def _update_trackers(self, terms):
        for name, tracker in self.trackers.items():
            tracker.update_state(terms[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        import tensorflow as tf  # the training loop is TF-specific; inference is not

        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            terms = self._loss_terms(x, training=True)
        grads = tape.gradient(terms["loss"], self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return self._update_trackers(terms)

    def test_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        return self._update_trackers(self._loss_terms(x, training=False))

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim,
                "beta": self.beta, "kl_reduction": self.kl_reduction}

    # -- fast inference: a traced function per model, ~1 ms a call, not predict()'s ~100 ms

    def encode(self, images):
        """float32 (n,28,28,1) in [0,1] → (z_mean, z_log_var) as NumPy arrays."""
        if self._fast_encode is None:
            import tensorflow as tf
            encoder = self.encoder
            self._fast_encode = tf.function(
                lambda x: encoder(x, training=False)[:2], reduce_retracing=True,
                input_signature=[tf.TensorSpec((None,) + IMAGE_SHAPE, tf.float32)])
        images = np.asarray(images, dtype="float32").reshape((-1,) + IMAGE_SHAPE)
        z_mean, z_log_var = self._fast_encode(images)
        return z_mean.numpy(), z_log_var.numpy()

    def decode(self, z):
        """(n, latent_dim) → float32 images (n, 28, 28) in [0, 1]."""
        if self._fast_decode is None:
            import tensorflow as tf
            decoder = self.decoder
            self._fast_decode = tf.function(
                lambda z: decoder(z, training=False), reduce_retracing=True,
                input_signature=[tf.TensorSpec((None, self.latent_dim), tf.float32)])
        z = np.asarray(z, dtype="float32").reshape((-1, self.latent_dim))
        return self._fast_decode(z).numpy()[..., 0]


def encode_all(model, images, batch=2048):
    """z_mean and z_log_var of many uint8 or float images, in memory-sized batches."""
    means, log_vars = [], []
    for start in range(0, len(images), batch):
        m, lv = model.encode(to_model_input(images[start:start + batch]))
        means.append(m)
        log_vars.append(lv)
    return np.concatenate(means), np.concatenate(log_vars)


def build_vae(latent_dim=2, beta=1.0, kl_reduction="mean", learning_rate=1e-3):
    model = VAE(latent_dim=latent_dim, beta=beta, kl_reduction=kl_reduction)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return model


def load_vae(path):
    """Load a `.keras` file written by `VAE.save`, with Keras' safe_mode on."""
    return keras.saving.load_model(path, safe_mode=True, compile=False)
