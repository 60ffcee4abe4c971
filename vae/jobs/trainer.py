"""The trainer process: `python -m vae.trainer JOB_DIR`, started by a runner (vae.jobs.local
on this machine, or Ray's job supervisor on a cluster node).

It trains with vae.train's recipe and reports into its job directory (the files and
events are described in vae/jobs/events.py): numbered events in progress.jsonl, a
latent-space preview after each epoch, and a stop.json it obeys.

Nothing here imports TensorFlow at module level: the thread budget must be set before
TensorFlow starts its thread pools, which happens in run_job.
"""
import errno
import functools
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from vae.jobs import ray_python
from vae.jobs.events import LOG_FILE, PREVIEW_FILE, PROGRESS_FILE, STOP_FILE, EventLog
from vae.jobs.record import read_args
from vae.ml.config import TrainConfig
from vae.store.disk import atomic_file, read_json

BATCH_EVENT_INTERVAL = 0.25  # seconds: at most ~4 batch events a second
PREVIEW_DIGITS = 2000  # the first 2,000 test digits, the same every epoch
PREVIEW_GRID = 12  # a 12x12 manifold


def _floats(logs):
    return {k: float(v) for k, v in (logs or {}).items()}


def keras_callbacks():
    """The two Keras callbacks. Built on first use because they subclass a Keras class,
    and importing Keras at module level would start TensorFlow in the trainer too early."""
    import keras

    class StopRequest(keras.callbacks.Callback):
        """vae.train's `user_stop`: stops fit() at the next batch end once stop.json exists."""

        def __init__(self, job_dir):
            super().__init__()
            self.path = Path(job_dir) / STOP_FILE
            self.requested = False

        def on_train_batch_end(self, batch, logs=None):
            if not self.requested and self.path.exists():  # a stat per batch costs microseconds
                self.requested = True
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            # A stop pressed during the last epoch's validation or preview still counts.
            self.on_train_batch_end(None)

        def keep(self):
            """The user's latest choice, read when training ends (train_and_save's keep_partial)."""
            return bool(read_json(self.path, {}).get("keep", True))

    class ProgressCallback(keras.callbacks.Callback):
        """Reports fit() as events, and writes a preview after each full epoch."""

        def __init__(self, events, stop, preview=None, patience=None):
            super().__init__()
            self.events, self.stop, self.preview, self.patience = events, stop, preview, patience
            self.epoch, self.last_batch_event, self.val_losses = 0, 0.0, []

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch + 1  # events count epochs from 1, as people do
            self.events.emit("epoch_begin", epoch=self.epoch, epochs=self.params["epochs"],
                             batches=self.params["steps"])

        def on_train_batch_end(self, batch, logs=None):
            now = time.monotonic()
            if now - self.last_batch_event < BATCH_EVENT_INTERVAL:
                return  # float(logs) waits for the step to finish: only do it when we report
            self.last_batch_event = now
            # Keras' batch logs are running means over the epoch so far
            self.events.emit("batch", epoch=self.epoch, batch=batch + 1,
                             batches=self.params["steps"], **_floats(logs))

        def on_epoch_end(self, epoch, logs=None):
            logs = _floats(logs)
            self.val_losses.append(logs.get("val_loss", float("inf")))
            self.events.emit("epoch_end", epoch=self.epoch, logs=logs, partial=self.stop.requested)
            if self.stop.requested:
                return  # the user is waiting for the stop: skip the preview
            if self.preview is not None:
                try:
                    self.preview(self.model, self.epoch)
                    self.events.emit("preview", epoch=self.epoch)
                except Exception:  # a preview is cosmetic: never lose the training to it
                    traceback.print_exc()
            if self.model.stop_training:  # EarlyStopping runs before us and has just fired
                best = int(np.argmin(self.val_losses))
                self.events.emit("early_stopping", epoch=self.epoch, best_epoch=best + 1,
                                 best_val_loss=self.val_losses[best], patience=self.patience)

        def on_train_end(self, logs=None):
            if not (self.stop.requested and not self.stop.keep()):
                self.events.emit("evaluating")

    return {"StopRequest": StopRequest, "ProgressCallback": ProgressCallback}


def write_preview(model, epoch, images, labels, path):
    """Encode `images`, decode a manifold over where they lie in one batch, write `path` atomically."""
    from vae.ml.model import encode_all
    from vae.ml.latent import latent_extent, manifold

    z, _ = encode_all(model, images)
    z2 = np.zeros((len(z), 2), "float32")  # the first two dims; a 1-D latent gets z[1] = 0
    z2[:, :min(2, z.shape[1])] = z[:, :2]
    lo, hi = latent_extent(z2)
    extent = float(np.ceil(2 * max(np.abs(lo).max(), np.abs(hi).max())) / 2)  # symmetric, to 0.5

    def decode(points):  # other latent dims at 0
        full = np.zeros((len(points), model.latent_dim), "float32")
        full[:, :min(2, model.latent_dim)] = points[:, :model.latent_dim]
        return model.decode(full)

    grid, _, _ = manifold(decode, PREVIEW_GRID, -extent, extent)
    with atomic_file(path, "wb") as f:  # a file object: np.savez would append ".npz" to a name
        np.savez(f, z=z2, labels=np.asarray(labels, np.uint8),
                 manifold=np.round(np.clip(grid, 0, 1) * 255).astype(np.uint8),
                 epoch=np.int32(epoch), extent=np.float32(extent))


def _redirect_output(path):
    """The trainer's stdout and stderr (TensorFlow's C++ logs too) go to trainer.log."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def describe_failure(err, out_dir):
    """The error as the Train tab shows it; a full disk is named as such, whatever wrapped it."""
    cause = err
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
            return (f"the disk is full: no space left to save the model in {Path(out_dir).parent} "
                    f"({type(err).__name__}: {err})")
        if isinstance(cause, ModuleNotFoundError):  # a Ray node started outside the project's venv
            return (f"{type(cause).__name__}: {cause}. This Python ({sys.executable}) lacks the project's "
                    f"requirements: {ray_python.HOW_TO_FIX}")
        cause = cause.__cause__ or cause.__context__
    return f"{type(err).__name__}: {err}"


def run_job(job_dir: str, config: TrainConfig, out_dir: str, threads: int, log_to_file: bool = True):
    """The trainer process: train, evaluate and save `out_dir`, reporting into `job_dir`.
    `log_to_file`: stdout and stderr go to trainer.log (the local runner); on Ray they stay
    with the job, where `ray job logs` finds them."""
    job_dir = Path(job_dir)
    if log_to_file:
        _redirect_output(job_dir / LOG_FILE)
    events = EventLog(job_dir / PROGRESS_FILE)
    events.emit("started", pid=os.getpid())
    if read_json(job_dir / STOP_FILE, {}).get("keep") is False:  # cancelled while it waited for a node
        events.emit("discarded")
        sys.stdout.flush()
        os._exit(0)
    os.nice(10)  # the Streamlit server shares the cores and must stay responsive
    # thread budgets must be set before TensorFlow starts its thread pools
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["TF_NUM_INTRAOP_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(min(threads, 2))
    try:
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
        from vae.data.arrays import load_arrays
        from vae.store.disk import read_metadata
        from vae.train import train_and_save

        arrays = load_arrays(dataset=config.dataset)
        callbacks = keras_callbacks()
        stop = callbacks["StopRequest"](job_dir)
        preview = functools.partial(write_preview, images=arrays["x_test"][:PREVIEW_DIGITS],
                                    labels=arrays["y_test"][:PREVIEW_DIGITS],
                                    path=job_dir / PREVIEW_FILE)
        progress = callbacks["ProgressCallback"](events, stop, preview, config.patience)
        model_dir = train_and_save(config, out_dir, callbacks=[progress], user_stop=stop,
                                   verbose=0, arrays=arrays, keep_partial=stop.keep)
        if model_dir is None:
            events.emit("discarded")
        else:
            meta = read_metadata(model_dir)
            # the target (a folder, or the store's URL), not the trainer's local copy of it
            events.emit("finished", model_dir=str(out_dir), stop_reason=meta["stop_reason"],
                        metrics=meta["metrics"], epochs_run=meta["epochs_run"],
                        best_epoch=meta["best_epoch"])
        code = 0
    except Exception as err:  # write_model_dir is atomic: a failure leaves no model behind
        traceback.print_exc()
        events.emit("failed", error=describe_failure(err, out_dir))
        code = 1
    # Everything is on disk. Skip the interpreter's teardown of TensorFlow, which takes
    # seconds on a busy machine at nice 10, so the slot frees as soon as the job is over.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv):
    if len(argv) != 1:
        print("usage: python -m vae.trainer JOB_DIR  (a runner writes JOB_DIR/args.json)", file=sys.stderr)
        sys.exit(2)
    run_job(**vars(read_args(argv[0])))
