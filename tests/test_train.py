"""Training: the loss goes down, the directory is complete, early stopping is real, writes are atomic."""
import datetime as dt
import json
import math
import os

import numpy as np
import pytest

import keras

from vae import settings, train
from vae.ml import fit
from vae.store import disk
from vae.data.arrays import load_arrays
from vae.data.datasets import MNIST
from vae.ml.model import VAE, build_vae, load_vae
from vae.ml.config import STOP_COMPLETED, STOP_EARLY, STOP_USER, TrainConfig
from vae.ml.fit import StopReason

METADATA_KEYS = {"options", "history", "epochs_run", "stop_reason", "data_sha256", "seed",
                 "created", "versions", "metrics"}
METRIC_KEYS = {"neg_elbo", "reconstruction", "kl", "knn5_accuracy"}


@pytest.fixture(scope="module")
def arrays():
    return load_arrays(allow_download=False)


def leftovers(parent):
    return [p.name for p in parent.iterdir() if p.name.startswith(disk.TMP_PREFIX)]


def forbid(monkeypatch, module, name):
    def refuse(*args, **kwargs):
        raise AssertionError(f"{module.__name__}.{name} must not be called")
    monkeypatch.setattr(module, name, refuse)


# -- the shared 2-epoch run (tests/conftest.py: `python -m vae.train --limit 300 --epochs 2`)

def test_two_epochs_lower_the_training_loss(tiny_model_dir):
    history = disk.read_metadata(tiny_model_dir)["history"]
    assert len(history["loss"]) == 2
    assert history["loss"][1] < history["loss"][0]
    assert len(history["val_loss"]) == 2  # a validation split was really used


def test_training_writes_a_complete_model_directory(tiny_model_dir):
    assert sorted(p.name for p in tiny_model_dir.iterdir()) == [
        "decoder.json", "encoder.json", "metadata.json", "model.keras", "test_codes.npz", "thumb_manifold.png",
        "thumb_map.png"]
    assert disk.is_model_dir(tiny_model_dir)
    assert leftovers(tiny_model_dir.parent) == []
    meta = json.loads((tiny_model_dir / "metadata.json").read_text())
    assert METADATA_KEYS <= set(meta)
    assert meta["options"]["limit"] == 300 and meta["options"]["epochs"] == 2
    assert meta["options"]["seed"] == meta["seed"] == 0
    assert meta["epochs_run"] == 2 and meta["stop_reason"] == STOP_COMPLETED
    assert meta["data_sha256"] == MNIST.content_sha256
    created = dt.datetime.fromisoformat(meta["created"])
    assert created.tzinfo is not None
    assert abs((dt.datetime.now(dt.timezone.utc) - created).total_seconds()) < 3600
    assert meta["versions"]["keras"] == keras.__version__
    assert {"python", "tensorflow", "numpy"} <= set(meta["versions"])
    metrics = meta["metrics"]
    assert METRIC_KEYS <= set(metrics)
    for key in METRIC_KEYS:
        assert isinstance(metrics[key], float) and math.isfinite(metrics[key]), key
    assert metrics["neg_elbo"] == pytest.approx(metrics["reconstruction"] + metrics["kl"], rel=1e-9)
    assert metrics["kl"] >= 0 and 0.0 <= metrics["knn5_accuracy"] <= 1.0
    # 300 images minus the 10% validation slice
    assert (meta["train_images"], meta["val_images"]) == (270, 30)


def test_the_saved_model_loads_safely(tiny_model_dir):
    model = load_vae(tiny_model_dir / disk.MODEL_FILE)
    assert isinstance(model, VAE) and model.latent_dim == 2
    assert model.decode(np.zeros((1, 2), "float32")).shape == (1, 28, 28)


# -- early stopping and the stop reason

@pytest.mark.trainer
def test_early_stopping_really_fires(arrays):
    """With a zero learning rate nothing can improve: the sampled val loss only jitters, so
    with patience 1 training must stop at the first epoch that fails to beat the best so far."""
    config = TrainConfig(epochs=12, limit=40, patience=1, learning_rate=0.0, batch_size=64)
    model, summary = fit.fit(config, arrays, verbose=0)
    val = summary["history"]["val_loss"]
    assert summary["stop_reason"] == STOP_EARLY
    assert summary["epochs_run"] == len(val) < config.epochs
    # Re-derive the stopping epoch from the history: the first epoch > 0 not below the best before it.
    expected_stop = next(e for e in range(1, len(val)) if not val[e] < min(val[:e]))
    assert summary["epochs_run"] == expected_stop + 1
    assert summary["best_epoch"] == int(np.argmin(val)) + 1


@pytest.mark.trainer
def test_no_early_stop_when_patience_is_not_exhausted(arrays):
    config = TrainConfig(epochs=3, limit=40, patience=5, learning_rate=0.0, batch_size=64)
    _, summary = fit.fit(config, arrays, verbose=0)
    assert summary["stop_reason"] == STOP_COMPLETED
    assert summary["epochs_run"] == 3


class StopAfterFirstEpoch(keras.callbacks.Callback):
    """A user pressing Stop: the flag StopReason reads, and Keras' stop_training."""

    def __init__(self):
        super().__init__()
        self.requested = False

    def on_epoch_end(self, epoch, logs=None):
        self.requested = True
        self.model.stop_training = True


@pytest.mark.trainer
def test_a_user_stop_is_reported_and_can_discard_the_model(arrays, tmp_path, monkeypatch):
    import vae.evaluate
    forbid(monkeypatch, vae.evaluate, "evaluate")  # nothing is kept, so nothing is evaluated
    out = tmp_path / "stopped"
    config = TrainConfig(epochs=5, limit=40, batch_size=64)
    result = train.train_and_save(config, out, user_stop=StopAfterFirstEpoch(), verbose=0,
                                  arrays=arrays, keep_partial=False)
    assert result is None
    assert not out.exists() and list(tmp_path.iterdir()) == []


class FakeEarlyStopping:
    def __init__(self, stopped_epoch):
        self.stopped_epoch = stopped_epoch


class FakeUserStop:
    def __init__(self, requested):
        self.requested = requested


@pytest.mark.parametrize("stopped_epoch, user, expected", [
    (0, None, STOP_COMPLETED),
    (4, None, STOP_EARLY),
    (0, False, STOP_COMPLETED),
    (4, False, STOP_EARLY),
    (0, True, STOP_USER),
    (4, True, STOP_USER),  # a user's request wins over early stopping
])
def test_stop_reason_wiring(stopped_epoch, user, expected):
    user_stop = None if user is None else FakeUserStop(user)
    assert StopReason(FakeEarlyStopping(stopped_epoch), user_stop)() == expected


# -- atomic writes

@pytest.fixture(scope="module")
def small_model():
    return build_vae()


def test_write_model_dir_success(small_model, tmp_path):
    dest = disk.write_model_dir(small_model, {"name": "ok", "n": 1}, tmp_path / "ok")
    assert dest == tmp_path / "ok"
    assert sorted(p.name for p in dest.iterdir()) == ["metadata.json", "model.keras"]
    assert disk.read_metadata(dest) == {"name": "ok", "n": 1}
    assert leftovers(tmp_path) == []
    assert os.stat(dest).st_mode & 0o777 == 0o755  # mkdtemp's 0700 is widened


def test_interrupted_json_write_leaves_nothing(small_model, tmp_path):
    """model.keras is already written when the metadata fails to serialise."""
    dest = tmp_path / "m"
    with pytest.raises(TypeError):
        disk.write_model_dir(small_model, {"bad": object()}, dest)
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def test_interrupted_model_save_leaves_nothing(small_model, tmp_path, monkeypatch):
    """A kill (KeyboardInterrupt, a BaseException) halfway through writing model.keras."""
    def half_save(path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(small_model, "save", half_save)
    dest = tmp_path / "m"
    with pytest.raises(KeyboardInterrupt):
        disk.write_model_dir(small_model, {"name": "m"}, dest)
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def test_failed_rename_leaves_nothing(small_model, tmp_path, monkeypatch):
    def broken_rename(src, dst):
        raise OSError("rename failed")
    monkeypatch.setattr(disk.os, "rename", broken_rename)
    dest = tmp_path / "m"
    with pytest.raises(OSError, match="rename failed"):
        disk.write_model_dir(small_model, {"name": "m"}, dest)
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def test_write_model_dir_refuses_an_existing_destination(small_model, tmp_path):
    dest = tmp_path / "taken"
    dest.mkdir()
    (dest / "keep.txt").write_text("precious")
    with pytest.raises(disk.ModelExistsError):
        disk.write_model_dir(small_model, {"name": "x"}, dest)
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]
    assert (dest / "keep.txt").read_text() == "precious"
    assert leftovers(tmp_path) == []


@pytest.mark.trainer
def test_interrupted_write_during_the_cli_leaves_nothing(arrays, tmp_path, monkeypatch):
    """The whole `vae.train` path: a failure while writing metadata leaves no model directory."""
    import vae.data.arrays
    import vae.evaluate

    monkeypatch.setattr(vae.data.arrays, "load_arrays", lambda *a, **k: arrays)
    # The held-out evaluation is not what this test is about; skip its cost.
    monkeypatch.setattr(vae.evaluate, "evaluate",
                        lambda model, arrays, seed=0, **options: {k: 1.0 for k in METRIC_KEYS})

    real_dumps = json.dumps
    seen = []

    def disk_full_on_metadata(obj, *args, **kwargs):  # model.keras's own JSON still works
        if isinstance(obj, dict) and "stop_reason" in obj:
            seen.append(sorted(obj))
            raise OSError(28, "No space left on device")
        return real_dumps(obj, *args, **kwargs)

    monkeypatch.setattr(disk.json, "dumps", disk_full_on_metadata)
    out = tmp_path / "models" / "m"
    with pytest.raises(OSError, match="No space"):
        train.main(["--limit", "40", "--epochs", "1", "--batch-size", "64", "--out", str(out), "--quiet"])
    assert seen and METADATA_KEYS <= set(seen[0])  # it failed at the metadata, after model.keras
    assert not out.exists()
    assert list(out.parent.iterdir()) == []


# -- the command line refuses bad requests before doing any work

def test_out_to_an_existing_directory_fails_fast_and_leaves_it_untouched(tmp_path, monkeypatch, capsys):
    import vae.data.arrays
    forbid(monkeypatch, vae.data.arrays, "load_arrays")
    forbid(monkeypatch, train, "fit")
    out = tmp_path / "existing"
    out.mkdir()
    (out / "model.keras").write_bytes(b"not yours")
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}

    assert train.main(["--limit", "300", "--epochs", "1", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "already exists" in err and str(out) in err
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()} == before
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("args, message", [
    (["--limit", "5"], "limit"),
    (["--epochs", "0"], "epochs"),
    (["--batch-size", "0"], "batch size"),
    (["--beta", "-1"], "beta"),
])
def test_invalid_options_exit_2_with_a_message(args, message, tmp_path, monkeypatch, capsys):
    import vae.data.arrays
    forbid(monkeypatch, vae.data.arrays, "load_arrays")
    forbid(monkeypatch, train, "fit")
    out = tmp_path / "never"
    assert train.main(args + ["--out", str(out), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error:") and message in captured.err
    assert captured.out == ""
    assert not out.exists()


def test_unknown_kl_reduction_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--kl-reduction", "median"])
    assert exit_info.value.code == 2
    assert "kl-reduction" in capsys.readouterr().err


# -- learning-rate warm-up and KL warm-up

def test_no_warmup_keeps_the_references_plain_rate_and_the_cosine_as_it_was():
    assert fit.learning_rate(TrainConfig(), steps_per_epoch=10) == 1e-3
    cosine = fit.learning_rate(TrainConfig(lr_schedule="cosine", epochs=4), steps_per_epoch=10)
    assert float(cosine(0)) == pytest.approx(1e-3)
    assert float(cosine(40)) == pytest.approx(1e-3 * fit.COSINE_FLOOR)


@pytest.mark.parametrize("schedule, end", [("constant", 2e-3), ("cosine", 2e-3 * fit.COSINE_FLOOR)])
def test_warmup_rises_linearly_from_zero_then_holds_or_decays(schedule, end):
    config = TrainConfig(epochs=4, warmup_epochs=1, learning_rate=2e-3, lr_schedule=schedule)
    rate = fit.learning_rate(config, steps_per_epoch=10)
    assert [float(rate(step)) for step in (0, 5, 10)] == pytest.approx([0.0, 1e-3, 2e-3])
    assert float(rate(40)) == pytest.approx(end)
    assert float(rate(25)) == pytest.approx(2e-3) if schedule == "constant" else float(rate(25)) < 2e-3


@pytest.mark.parametrize("warmup", [-0.5, 4])
def test_warmup_must_end_before_training_does(warmup):
    with pytest.raises(ValueError, match="warmup_epochs"):
        TrainConfig(epochs=4, warmup_epochs=warmup).validate()
    with pytest.raises(ValueError, match="kl_warmup_epochs"):
        TrainConfig(kl_warmup_epochs=-1).validate()


@pytest.mark.trainer
def test_kl_warmup_weighs_kl_less_in_the_first_epochs_and_fully_after(arrays):
    # 1,800 training images at batch 64: 29 steps an epoch, a 2-epoch warm-up is 58 steps;
    # fit() runs 32 steps per call into TensorFlow, so the weight must change inside a call
    config = TrainConfig(limit=2000, epochs=3, batch_size=64, patience=3, arch="mlp", kl_reduction="sum",
                         kl_warmup_epochs=2)
    model, summary = fit.fit(config, arrays, verbose=0)
    assert model.kl_warmup_steps == 58 and float(model.kl_weight()) == 1.0
    h = summary["history"]
    # epoch 1 (weights 0/58 .. 28/58): the optimised loss holds less than half the KL
    assert h["loss"][0] < h["reconstruction_loss"][0] + 0.5 * h["kl_loss"][0]
    # epoch 2 (29/58 .. 57/58): more than half, less than all of it
    assert (h["reconstruction_loss"][1] + 0.5 * h["kl_loss"][1] < h["loss"][1]
            < h["reconstruction_loss"][1] + h["kl_loss"][1])
    # epoch 3: all of it, as without warm-up
    assert h["loss"][2] == pytest.approx(h["reconstruction_loss"][2] + h["kl_loss"][2], rel=1e-5)
    # validation always weighs KL fully: early stopping watches the real objective
    assert h["val_loss"][0] == pytest.approx(h["val_reconstruction_loss"][0] + h["val_kl_loss"][0], rel=1e-5)


@pytest.mark.trainer
def test_without_kl_warmup_the_weight_is_one_from_the_first_step(arrays):
    config = TrainConfig(limit=500, epochs=1, batch_size=64, patience=1, arch="mlp")
    model, summary = fit.fit(config, arrays, verbose=0)
    h = summary["history"]
    assert model.kl_warmup_steps == 0 and model.kl_weight() == 1.0
    assert h["loss"][0] == pytest.approx(h["reconstruction_loss"][0] + h["kl_loss"][0], rel=1e-5)


def test_the_kl_warmup_is_saved_and_configs_without_it_still_load(tmp_path):
    model = build_vae(arch="mlp", kl_warmup_steps=12)
    model.save(tmp_path / "model.keras")
    assert load_vae(tmp_path / "model.keras").kl_warmup_steps == 12
    options = json.loads((settings.models_dir() / "reference" / "metadata.json").read_text())["options"]
    config = TrainConfig(**options)  # metadata written before the warm-ups and recipes existed
    assert (config.warmup_epochs, config.kl_warmup_epochs, config.recipe) == (0.0, 0.0, None)
