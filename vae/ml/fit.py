"""Build and fit a VAE: the reference recipe's training loop, and the metadata a run records.

Recipe: Adam, batch 128, up to 30 epochs, early stopping with patience 3.
The reference's EarlyStopping watched `val_loss` without any validation data,
so it never fired; here it watches a held-out slice of the training data and
restores the best weights.

No store here: vae.train (the command line) and the trainer process save what fit() returns.
"""
import dataclasses
import datetime as dt
import platform
import time

import numpy as np

from vae.ml.config import STOP_COMPLETED, STOP_EARLY, STOP_USER

# Speed (bench/reference_speed.py measures it against the post's own script):
# several train steps per call into TensorFlow spare Keras' per-step Python work,
# which at batch 128 on a small model is a large share of each step. Callbacks'
# batch hooks then run once per STEPS_PER_EXECUTION steps (a Stop waits that long).
STEPS_PER_EXECUTION = 32
VALIDATION_BATCH = 1024  # forward only: bigger batches, fewer steps
COSINE_FLOOR = 0.05  # the cosine schedule ends at 5% of the initial learning rate


def training_images(arrays, config):
    """uint8 training images and the held-out validation slice, seeded shuffle."""
    images = arrays["x_train"]
    if config.train_on == "all":
        images = np.concatenate([arrays["x_train"], arrays["x_test"]])
    if config.limit:
        images = images[:config.limit]
    order = np.random.default_rng(config.seed).permutation(len(images))
    n_val = max(1, int(round(len(images) * config.val_fraction)))
    return images[order[n_val:]], images[order[:n_val]]


class StopReason:
    """Tells why fit() returned: done, early stopping, or a user's stop request."""

    def __init__(self, early_stopping, user_stop=None):
        self.early_stopping = early_stopping
        self.user_stop = user_stop

    def __call__(self):
        if self.user_stop is not None and self.user_stop.requested:
            return STOP_USER
        if self.early_stopping.stopped_epoch > 0:
            return STOP_EARLY
        return STOP_COMPLETED


def as_dataset(images, batch_size, seed=None):
    """A tf.data pipeline over float images in memory: (re)shuffled each epoch when seeded,
    batched, prefetched so the next batch is ready when a step ends."""
    import tensorflow as tf
    data = tf.data.Dataset.from_tensor_slices(images)
    if seed is not None:
        data = data.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def learning_rate(config, steps_per_epoch):
    """Adam's learning rate: the float itself, or a cosine decay over the whole run; either one
    after a linear warm-up from 0 over `warmup_epochs` (large batches diverge without one)."""
    warmup_steps = int(round(config.warmup_epochs * steps_per_epoch))
    if config.lr_schedule == "constant" and not warmup_steps:
        return config.learning_rate
    import keras
    total_steps = config.epochs * steps_per_epoch
    floor = 1.0 if config.lr_schedule == "constant" else COSINE_FLOOR  # a cosine to 100% is flat
    if not warmup_steps:
        return keras.optimizers.schedules.CosineDecay(config.learning_rate, total_steps, alpha=floor)
    return keras.optimizers.schedules.CosineDecay(0.0, total_steps - warmup_steps, alpha=floor,
                                                  warmup_target=config.learning_rate,
                                                  warmup_steps=warmup_steps)


def library_versions():
    import keras
    import tensorflow as tf
    return {"python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": np.__version__}


def progress_bar():
    """A Keras callback showing each epoch's batches as a tqdm bar with rate and ETA, on stderr
    when it is a terminal (nothing when piped). Keras' own bar is not used: it writes to stdout,
    and on Linux draws its carriage returns into a pipe too."""
    import keras
    from tqdm import tqdm

    class ProgressBar(keras.callbacks.Callback):
        bar = None

        def on_epoch_begin(self, epoch, logs=None):
            self.bar = tqdm(total=self.params["steps"], desc=f"epoch {epoch + 1}/{self.params['epochs']}",
                            unit="batch", disable=None)

        def on_train_batch_end(self, batch, logs=None):  # once per STEPS_PER_EXECUTION steps,
            self.bar.update(min(batch + 1, self.bar.total) - self.bar.n)  # the last one past the end

        def on_epoch_end(self, epoch, logs=None):
            self.bar.set_postfix({k: f"{v:.2f}" for k, v in (logs or {}).items()
                                  if k in ("loss", "neg_elbo", "val_loss", "val_neg_elbo")})
            self.bar.close()

    return ProgressBar()


def fit(config, arrays, callbacks=(), user_stop=None, verbose=0):
    """Build and train a model. Returns (model, summary dict for the metadata)."""
    import keras
    from vae.data.arrays import to_model_input
    from vae.data.datasets import get_dataset
    from vae.ml.model import build_vae

    config.validate()
    keras.utils.set_random_seed(config.seed)
    train_u8, val_u8 = training_images(arrays, config)
    x_train, x_val = to_model_input(train_u8), to_model_input(val_u8)
    spec = get_dataset(config.dataset)
    steps_per_epoch = -(-len(x_train) // config.batch_size)
    model = build_vae(config.latent_dim, config.beta, config.kl_reduction,
                      learning_rate(config, steps_per_epoch), arch=config.arch,
                      image_shape=spec.image_shape,
                      kl_warmup_steps=int(round(config.kl_warmup_epochs * steps_per_epoch)),
                      steps_per_execution=STEPS_PER_EXECUTION)
    early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience,
                                          restore_best_weights=True)
    all_callbacks = [early, *callbacks] + ([user_stop] if user_stop is not None else [])
    started = time.time()
    history = model.fit(as_dataset(x_train, config.batch_size, seed=config.seed),
                        validation_data=as_dataset(x_val, VALIDATION_BATCH), epochs=config.epochs,
                        callbacks=all_callbacks, verbose=verbose)
    seconds = time.time() - started
    history = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    epochs_run = len(history.get("loss", []))
    val_losses = history.get("val_loss", [])
    summary = {
        "history": history,
        "epochs_run": epochs_run,
        "best_epoch": int(np.argmin(val_losses)) + 1 if val_losses else None,
        "stop_reason": StopReason(early, user_stop)(),
        "train_seconds": round(seconds, 2),
        "train_images": int(len(x_train)),
        "val_images": int(len(x_val)),
        "samples_per_second": round(len(x_train) * max(epochs_run, 1) / max(seconds, 1e-9), 1),
    }
    return model, summary


def build_metadata(config, summary, metrics, data_hash, name):
    return {
        "name": name,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "dataset": config.dataset,
        "arch": config.arch,
        "options": dataclasses.asdict(config),
        **summary,
        "metrics": metrics,
        "data_sha256": data_hash,
        "seed": config.seed,
        "versions": library_versions(),
    }
