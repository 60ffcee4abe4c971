"""AppTest for the Train tab and the model picker, on a throw-away models directory."""
import json
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from vae.jobs import JobAlreadyRunning

from conftest import REPO_ROOT

APP = str(REPO_ROOT / "app.py")



def run(view=None):
    at = AppTest.from_file(APP, default_timeout=180)
    if view:
        at.query_params["view"] = view
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_training_can_be_switched_off_by_the_operator(models_dir, monkeypatch):
    monkeypatch.setenv("VAE_TRAINING", "off")
    at = run("Train")
    assert any("switched off" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "train_start"]


def test_epochs_are_bounded_and_capped_by_the_operator(models_dir, monkeypatch):
    at = run("Train")
    epochs = at.slider(key="train_epochs")
    assert (epochs.min, epochs.max, epochs.value) == (1, 100, 30)
    monkeypatch.setenv("VAE_MAX_EPOCHS", "12")
    at = run("Train")
    epochs = at.slider(key="train_epochs")
    assert (epochs.max, epochs.value) == (12, 12)
    assert any("caps training at 12" in c.value for c in at.caption)


def test_estimate_follows_the_settings(models_dir):
    at = run("Train")
    def estimate_seconds():
        text = next(c.value for c in at.caption if c.value.startswith("Estimated duration"))
        number = text.split("**")[1]  # "5 min 28 s" or "21 s"
        parts = [int(w) for w in number.replace("min", "").replace("s", "").split()]
        return parts[0] * 60 + parts[1] if len(parts) == 2 else parts[0]

    full = estimate_seconds()
    at.number_input(key="train_limit").set_value(3000).run()
    quick = estimate_seconds()
    at.slider(key="train_epochs").set_value(60).run()
    longer = estimate_seconds()
    assert quick < full and longer > quick


def test_invalid_quick_run_size_is_explained_and_start_disabled(models_dir):
    at = run("Train")
    at.number_input(key="train_limit").set_value(10).run()
    assert any("at least 20" in w.value for w in at.warning)
    assert at.button(key="train_start").disabled


def test_picker_switches_the_whole_explorer(models_dir):
    at = run("Model")
    assert at.sidebar.selectbox(key="model_picker").value == "reference"
    at.sidebar.selectbox(key="model_picker").set_value("tiny").run()
    assert not at.exception
    assert at.session_state["active_model"] == "tiny"
    assert at.query_params["model"] == "tiny"
    assert any("“tiny”" in h.value for h in at.subheader)
    from vae.store import read_metadata
    neg_elbo = read_metadata(models_dir / "tiny")["metrics"]["neg_elbo"]
    assert {m.label: m.value for m in at.sidebar.metric}["Test −ELBO"] == f"{neg_elbo:.1f}"


def test_a_delete_confirmation_never_carries_over_to_another_version(models_dir):
    shutil.copytree(models_dir / "tiny", models_dir / "tiny2")
    at = run("Model")
    at.sidebar.selectbox(key="model_picker").set_value("tiny").run()
    at.checkbox(key="delete_confirm_tiny").check().run()
    assert not at.button(key="delete_model").disabled
    at.sidebar.selectbox(key="model_picker").set_value("tiny2").run()
    assert at.checkbox(key="delete_confirm_tiny2").value is False
    assert at.button(key="delete_model").disabled


def test_a_version_deleted_elsewhere_falls_back_and_forgets_its_state(models_dir):
    # This session was exploring "gone" (drew on it, picked a digit); another session deleted it.
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["active_model"] = "gone"
    at.session_state["drawn"] = {"image": None, "z_mean": None, "z_log_var": None}
    at.session_state["picked_test"] = 7
    at.run()
    assert not at.exception
    assert at.session_state["active_model"] == "reference"
    assert "drawn" not in at.session_state and "picked_test" not in at.session_state
    assert at.query_params["model"] == "reference"


def test_the_shipped_model_cannot_be_deleted_but_others_can(models_dir):
    at = run("Model")
    assert not [b for b in at.button if b.key == "delete_model"]
    at.sidebar.selectbox(key="model_picker").set_value("tiny").run()
    assert at.button(key="delete_model").disabled
    at.checkbox(key="delete_confirm_tiny").check().run()
    at.button(key="delete_model").click().run()
    assert not at.exception
    assert not (models_dir / "tiny").exists()
    assert (models_dir / "reference" / "model.keras").exists()
    assert at.session_state["active_model"] == "reference"
    options = at.sidebar.selectbox(key="model_picker").options
    assert len(options) == 1 and options[0].startswith("reference (shipped)")


def test_a_running_job_is_shown_and_a_second_start_refused(models_dir):
    from vae.train import TrainConfig
    from vae.ui import training

    manager = training.job_manager()
    manager.start(TrainConfig(epochs=50, limit=2000))  # long enough to still run below
    try:
        at = run("Train")
        assert at.button(key="train_start").disabled
        assert at.get("progress"), "the running job's progress bar is shown"
        with pytest.raises(JobAlreadyRunning):
            training.job_manager().start(TrainConfig(epochs=1, limit=300))
    finally:
        manager.stop(keep=False)
        manager.wait(timeout=120)
    assert manager.status().state == "discarded"


def test_a_damaged_model_file_is_reported_not_crashed(models_dir):
    (models_dir / "tiny" / "model.keras").write_bytes(b"not a zip at all")
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["model"] = "tiny"
    at.run()
    assert not at.exception
    assert any("Could not load the model “tiny”" in e.value for e in at.error)
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["active_model"] == "reference"
    pads = [json.loads(e.proto.json) for e in at.main
            if getattr(getattr(e, "proto", None), "component_name", "") == "vae_latent_pad"]
    assert len(pads) == 1 and pads[0]["model"].startswith("reference@")  # the pad is back, on the default


def test_a_killed_trainer_is_reported_on_the_page_and_leaves_no_model(models_dir):
    import os
    import signal

    from vae.config import TrainConfig
    from vae.ui import training

    manager = training.job_manager()
    info = manager.start(TrainConfig(epochs=50, limit=2000))
    os.kill(info.pid, signal.SIGKILL)
    manager.wait(timeout=60)
    at = run("Train")
    assert any("Training failed" in e.value and "exited unexpectedly" in e.value for e in at.error)
    assert not (models_dir / info.name).exists()
    assert not at.button(key="train_start").disabled  # the slot is free again


def test_the_picker_describes_each_version(models_dir):
    at = run()
    labels = at.sidebar.selectbox(key="model_picker").options
    tiny = next(label for label in labels if label.startswith("tiny"))
    from vae.store import read_metadata
    meta = read_metadata(models_dir / "tiny")
    assert meta["created"][:10] in tiny and "2 epochs" in tiny and "300 imgs" in tiny
    assert f"−ELBO {meta['metrics']['neg_elbo']:.1f}" in tiny
    assert labels[0].startswith("reference (shipped)")
