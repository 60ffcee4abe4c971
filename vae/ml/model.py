"""The convolutional VAE: an encoder/decoder pair from vae.ml.architectures plus the loss.

The default architecture, "reference", is exactly the blog post's (on its 28x28 MNIST):
  encoder: 28x28x1 → Conv2D(32,3,s2) → Conv2D(64,3,s2) → Flatten → Dense(16)
           → z_mean, z_log_var → Sampling
  decoder: Dense(7*7*64) → Reshape → Conv2DTranspose(32,3,s2) → Conv2DTranspose(1,3,s2,sigmoid)

Everything is a registered serializable layer or model, so `.keras` files load
with safe_mode=True: no Lambda layers, no pickle.
"""
import numpy as np
import keras
from keras import ops

from vae.ml import architectures
from vae.data.arrays import to_model_input
from vae.ml.loss import KL_REDUCTIONS, vae_loss_terms


@keras.saving.register_keras_serializable(package="vae")
class VAE(keras.Model):
    """Encoder + decoder trained on the reference loss; tracks the true -ELBO too."""

    METRIC_NAMES = ("loss", "reconstruction_loss", "kl_loss", "neg_elbo")

    def __init__(self, latent_dim=2, beta=1.0, kl_reduction="mean", arch=architectures.DEFAULT_ARCH,
                 image_shape=None, kl_warmup_steps=0, **kwargs):
        super().__init__(**kwargs)
        if kl_reduction not in KL_REDUCTIONS:
            raise ValueError(f"kl_reduction must be one of {KL_REDUCTIONS}, got {kl_reduction!r}")
        self.latent_dim = int(latent_dim)
        self.beta = float(beta)
        self.kl_reduction = kl_reduction
        self.arch = arch
        # (rows, cols); JSON gives a list. None: a model saved before image_shape was recorded
        image_shape = image_shape or architectures.default_image_shape()
        self.image_shape = tuple(int(n) for n in image_shape)
        # KL warm-up: the KL weight rises linearly from 0 to beta over this many training steps,
        # read from the optimizer's step count, so it needs no variable of its own in the file
        self.kl_warmup_steps = int(kl_warmup_steps)
        self.encoder = architectures.build_encoder(arch, self.latent_dim, self.image_shape)
        self.decoder = architectures.build_decoder(arch, self.latent_dim, self.image_shape)
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

    def _loss_terms(self, x, training, kl_weight=1.0):
        z_mean, z_log_var, z = self.encoder(x, training=training)
        x_decoded = self.decoder(z, training=training)
        return vae_loss_terms(x, x_decoded, z_mean, z_log_var, self.kl_reduction, self.beta * kl_weight)

    def kl_weight(self):
        """The share of beta the KL term gets at the optimizer's current step (1 after warm-up)."""
        if not self.kl_warmup_steps:
            return 1.0
        steps = ops.cast(self.optimizer.iterations, "float32")
        return ops.minimum(1.0, steps / float(self.kl_warmup_steps))

    def _update_trackers(self, terms):
        for name, tracker in self.trackers.items():
            tracker.update_state(terms[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        import tensorflow as tf  # the training loop is TF-specific; inference is not

        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            terms = self._loss_terms(x, training=True, kl_weight=self.kl_weight())
        grads = tape.gradient(terms["loss"], self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return self._update_trackers(terms)

    def test_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        return self._update_trackers(self._loss_terms(x, training=False))

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim, "beta": self.beta,
                "kl_reduction": self.kl_reduction, "arch": self.arch, "image_shape": list(self.image_shape),
                "kl_warmup_steps": self.kl_warmup_steps}

    @property
    def input_image_shape(self):
        """(rows, cols, 1): what encode() takes."""
        return self.image_shape + (1,)

    # -- fast inference: a traced function per model, ~1 ms a call, not predict()'s ~100 ms

    def encode(self, images):
        """float32 (n, rows, cols, 1) in [0,1] → (z_mean, z_log_var) as NumPy arrays."""
        if self._fast_encode is None:
            import tensorflow as tf
            encoder = self.encoder
            self._fast_encode = tf.function(
                lambda x: encoder(x, training=False)[:2], reduce_retracing=True,
                input_signature=[tf.TensorSpec((None,) + self.input_image_shape, tf.float32)])
        images = np.asarray(images, dtype="float32").reshape((-1,) + self.input_image_shape)
        z_mean, z_log_var = self._fast_encode(images)
        return z_mean.numpy(), z_log_var.numpy()

    def decode(self, z):
        """(n, latent_dim) → float32 images (n, rows, cols) in [0, 1]."""
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


def build_vae(latent_dim=2, beta=1.0, kl_reduction="mean", learning_rate=1e-3,
              arch=architectures.DEFAULT_ARCH, image_shape=None, kl_warmup_steps=0, **compile_kwargs):
    """A compiled VAE. `learning_rate` may be a float or a keras LearningRateSchedule;
    image_shape None is the default dataset's."""
    model = VAE(latent_dim=latent_dim, beta=beta, kl_reduction=kl_reduction, arch=arch,
                image_shape=image_shape, kl_warmup_steps=kl_warmup_steps)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), **compile_kwargs)
    return model


def load_vae(path):
    """Load a `.keras` file written by `VAE.save`, with Keras' safe_mode on."""
    return keras.saving.load_model(path, safe_mode=True, compile=False)
