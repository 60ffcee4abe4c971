"""Training speed of `vae.train` against the blog post's own script, on the same images. Prints JSON.

  post        the post's model and loop as it writes them: its VAE class and train_step,
              Adam, `fit` on a NumPy array, batch 128, EarlyStopping(patience=3)
  vae_train   vae.ml.fit.fit with the reference recipe (same model, loss, Adam, batch 128)

Both train on the same images (vae.train's training split: 54,000 MNIST training
images, its 6,000 validation images are left out of the post's run) for the same
epochs, each in a fresh process so neither inherits the other's TensorFlow state.
images_per_second counts training images × epochs over fit()'s wall time (vae.train's
includes its validation pass). Both run with verbose=0: a progress bar is not the loop.
held_out_neg_elbo is the true -ELBO on the 10,000 test digits (vae.evaluate).

The machine is shared, and its load changes by the minute, so one run of each side
measures the neighbours as much as the code. The sides run --repeats times,
interleaved (post, vae_train, post, ...), and each run also reports the median of its
per-epoch throughputs after the first epoch (which traces the graphs);
speed_ratio_median_epoch compares the best of those medians, the least disturbed.

Usage: python bench/reference_speed.py [--epochs 10] [--repeats 2] [--limit N] [--seed 0]
"""
import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.child import run_json  # noqa: E402


def post_model():
    """The post's code, as it writes it (Sampling, encoder, decoder, VAE with train_step)."""
    import tensorflow as tf
    import keras

    class Sampling(tf.keras.layers.Layer):
        def call(self, inputs):
            z_mean, z_log_var = inputs
            batch = tf.shape(z_mean)[0]
            dim = tf.shape(z_mean)[1]
            epsilon = tf.random.normal(shape=(batch, dim))
            return z_mean + tf.exp(0.5 * z_log_var) * epsilon

    latent_dim = 2
    encoder_inputs = tf.keras.Input(shape=(28, 28, 1))
    x = tf.keras.layers.Conv2D(32, 3, activation='relu', strides=2, padding='same')(encoder_inputs)
    x = tf.keras.layers.Conv2D(64, 3, activation='relu', strides=2, padding='same')(x)
    x = tf.keras.layers.Flatten()(x)
    x = tf.keras.layers.Dense(16, activation='relu')(x)
    z_mean = tf.keras.layers.Dense(latent_dim, name='z_mean')(x)
    z_log_var = tf.keras.layers.Dense(latent_dim, name='z_log_var')(x)
    z = Sampling()([z_mean, z_log_var])
    encoder = tf.keras.Model(encoder_inputs, [z_mean, z_log_var, z], name='encoder')

    latent_inputs = tf.keras.Input(shape=(latent_dim,))
    x = tf.keras.layers.Dense(7 * 7 * 64, activation='relu')(latent_inputs)
    x = tf.keras.layers.Reshape((7, 7, 64))(x)
    x = tf.keras.layers.Conv2DTranspose(32, 3, activation='relu', strides=2, padding='same')(x)
    decoder_outputs = tf.keras.layers.Conv2DTranspose(1, 3, activation='sigmoid', strides=2, padding='same')(x)
    decoder = tf.keras.Model(latent_inputs, decoder_outputs, name='decoder')

    class VAE(tf.keras.Model):
        def __init__(self, encoder, decoder, **kwargs):
            super().__init__(**kwargs)
            self.encoder = encoder
            self.decoder = decoder
            self.total_loss_tracker = tf.keras.metrics.Mean(name='total_loss')
            self.reconstruction_loss_tracker = tf.keras.metrics.Mean(name='reconstruction_loss')
            self.kl_loss_tracker = tf.keras.metrics.Mean(name='kl_loss')

        @property
        def metrics(self):
            return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

        def train_step(self, data):
            with tf.GradientTape() as tape:
                z_mean, z_log_var, z = self.encoder(data)
                reconstruction = self.decoder(z)
                reconstruction_loss = tf.reduce_mean(tf.reduce_sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2)))
                kl_loss = -0.5 * (1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var))
                kl_loss = tf.reduce_mean(tf.reduce_mean(kl_loss, axis=1))
                total_loss = reconstruction_loss + kl_loss
            grads = tape.gradient(total_loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.total_loss_tracker.update_state(total_loss)
            self.reconstruction_loss_tracker.update_state(reconstruction_loss)
            self.kl_loss_tracker.update_state(kl_loss)
            return {"loss": self.total_loss_tracker.result(), "reconstruction_loss": self.reconstruction_loss_tracker.result(), "kl_loss": self.kl_loss_tracker.result()}

    return VAE(encoder, decoder)


def same_images(args):
    from vae.data.arrays import load_arrays
    from vae.ml.config import TrainConfig
    from vae.ml.fit import training_images
    arrays = load_arrays(allow_download=False)
    config = TrainConfig(epochs=args.epochs, patience=args.epochs, limit=args.limit, seed=args.seed)
    return arrays, config, training_images(arrays, config)[0]


def epoch_timer():
    """A callback that records each epoch's wall time (the same one for both sides)."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.started)
    return EpochTimer()


def median_epoch_rate(n_images, seconds):
    """Images/s of the median epoch after the first (which traces the graphs)."""
    import numpy as np
    later = seconds[1:] or seconds
    return round(n_images / float(np.median(later)), 1)


def held_out_neg_elbo(encoder_weights, decoder_weights, arrays, seed):
    """The true -ELBO on the test set, through vae.evaluate, for the reference architecture."""
    from vae.ml.metrics import elbo_terms
    from vae.ml.model import VAE
    model = VAE()
    model.encoder.set_weights(encoder_weights)
    model.decoder.set_weights(decoder_weights)
    reconstruction, kl, _ = elbo_terms(model, arrays["x_test"], seed)
    return float((reconstruction + kl).mean())


def run_post(args):
    import tensorflow as tf
    from vae.data.arrays import to_model_input
    arrays, _, train_u8 = same_images(args)
    mnist_digits = to_model_input(train_u8)  # float32 /255 with a channel axis, as the post does
    tf.keras.utils.set_random_seed(args.seed)
    vae = post_model()
    vae.compile(optimizer='adam')
    timer = epoch_timer()
    callbacks = [tf.keras.callbacks.EarlyStopping(patience=3)]
    started = time.perf_counter()
    history = vae.fit(mnist_digits, epochs=args.epochs, batch_size=128, callbacks=callbacks + [timer],
                      verbose=0)
    seconds = time.perf_counter() - started
    epochs = len(history.history["loss"])
    return {"images_per_second": round(len(mnist_digits) * epochs / seconds, 1), "seconds": round(seconds, 1),
            "median_epoch_images_per_second": median_epoch_rate(len(mnist_digits), timer.seconds),
            "epochs": epochs, "train_images": len(mnist_digits),
            "held_out_neg_elbo": round(held_out_neg_elbo(vae.encoder.get_weights(), vae.decoder.get_weights(),
                                                         arrays, args.seed), 2)}


def run_vae_train(args):
    from vae.ml.fit import fit
    arrays, config, _ = same_images(args)
    timer = epoch_timer()
    model, summary = fit(config, arrays, callbacks=[timer], verbose=0)
    return {"images_per_second": summary["samples_per_second"], "seconds": summary["train_seconds"],
            "median_epoch_images_per_second": median_epoch_rate(summary["train_images"], timer.seconds),
            "epochs": summary["epochs_run"], "train_images": summary["train_images"],
            "held_out_neg_elbo": round(held_out_neg_elbo(model.encoder.get_weights(),
                                                         model.decoder.get_weights(), arrays, args.seed), 2)}


SIDES = {"post": run_post, "vae_train": run_vae_train}


def run_side(side, args):
    """One side in a fresh Python: its JSON is the last line it prints."""
    return run_json(__file__, "--side", side, "--epochs", args.epochs, "--seed", args.seed,
                    *(["--limit", args.limit] if args.limit else []))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved runs of each side")
    parser.add_argument("--limit", type=int, default=None, help="first N training images only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--side", choices=tuple(SIDES), help=argparse.SUPPRESS)  # the child's job
    args = parser.parse_args(argv)
    if args.side:
        print(json.dumps(SIDES[args.side](args)))
        return 0
    runs = {side: [] for side in SIDES}
    for _ in range(args.repeats):
        for side in SIDES:
            runs[side].append(run_side(side, args))

    def best(side, key):
        return max(run[key] for run in runs[side])
    post, ours = runs["post"][0], runs["vae_train"][0]
    print(json.dumps({**runs, "epochs": args.epochs, "repeats": args.repeats,
                      "speed_ratio": round(best("vae_train", "images_per_second")
                                           / best("post", "images_per_second"), 2),
                      "speed_ratio_median_epoch": round(best("vae_train", "median_epoch_images_per_second")
                                                        / best("post", "median_epoch_images_per_second"), 2),
                      "neg_elbo_difference": round(ours["held_out_neg_elbo"] - post["held_out_neg_elbo"], 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
