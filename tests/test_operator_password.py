"""Who may train and delete: the operator password (vae.operator_password) and the page's lock."""
import dataclasses
import json
import subprocess
import time

import pytest
from streamlit.testing.v1 import AppTest

from vae import operator_password as op
from vae.settings import SETTINGS
from vae.jobfiles import CURRENT_FILE, JOB_FILE, STOP_FILE, JobInfo
from vae.processes import creation_time

from conftest import REPO_ROOT

APP = str(REPO_ROOT / "app.py")
SECRET = "correct horse battery staple"
ENV_VAR = SETTINGS["operator_password"].env


# --- the library ---------------------------------------------------------------------------

def test_only_the_exact_password_matches():
    assert op.password_matches(SECRET, SECRET)
    assert not op.password_matches(SECRET + " ", SECRET)
    assert not op.password_matches(SECRET[:-1], SECRET)
    assert not op.password_matches("", SECRET)
    assert not op.password_matches(None, SECRET) and not op.password_matches(SECRET, None)
    assert op.password_matches("pässwörd", "pässwörd")  # not only ASCII


# --- the page ------------------------------------------------------------------------------


@pytest.fixture
def locked(models_dir, monkeypatch):
    monkeypatch.setenv(ENV_VAR, SECRET)
    return models_dir


def run(view, **state):
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["view"] = view
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def forge_click(at, key):
    """What a crafted client can send: a click on a button the page shows disabled.
    (AppTest refuses to click a disabled button, so the disabled flag is lifted first.)"""
    button = at.button(key=key)
    button.proto.disabled = False
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def unlock(at, where, password):
    at.text_input(key=f"{where}_password").input(password)
    at.button(key=f"{where}_unlock").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def job_started(models_dir):
    return (models_dir / ".jobs" / CURRENT_FILE).exists()


def test_without_a_password_nothing_is_locked(models_dir):
    at = run("Train")
    assert not [t for t in at.text_input if t.key == "train_password"]
    assert not at.button(key="train_start").disabled


def test_locked_start_is_disabled_and_refused_even_when_clicked(locked):
    at = run("Train")
    assert any("need the operator password" in i.value and ENV_VAR in i.value for i in at.info)
    assert at.button(key="train_start").disabled
    forge_click(at, "train_start")
    assert not job_started(locked)


def test_a_wrong_password_is_refused_and_the_right_one_unlocks(locked):
    at = unlock(run("Train"), "train", "guess")
    assert any(e.value == "Wrong operator password." for e in at.error)
    assert at.button(key="train_start").disabled
    at = unlock(at, "train", SECRET)
    assert not at.error
    assert not at.button(key="train_start").disabled
    assert any("unlocked for this session" in c.value for c in at.caption)
    assert not [t for t in at.text_input if t.key == "train_password"]  # the form is gone
    # unlocked once, for the whole session: the Model tab's delete too
    at.query_params["view"] = "Model"
    at.run()
    assert not [t for t in at.text_input if t.key == "model_password"]


def test_a_changed_password_locks_the_session_again(locked, monkeypatch):
    at = unlock(run("Train"), "train", SECRET)
    assert not at.button(key="train_start").disabled
    monkeypatch.setenv(ENV_VAR, "a new one")
    at.run()
    assert at.button(key="train_start").disabled


def test_delete_needs_the_password(locked):
    at = run("Model", active_model="tiny")
    at.checkbox(key="delete_confirm_tiny").check().run()
    assert at.button(key="delete_model").disabled
    forge_click(at, "delete_model")
    assert (locked / "tiny").exists()
    at = unlock(at, "model", "guess")
    assert any(e.value == "Wrong operator password." for e in at.error)
    assert (locked / "tiny").exists()
    at = unlock(at, "model", SECRET)
    at.checkbox(key="delete_confirm_tiny").check().run()
    assert not at.button(key="delete_model").disabled
    at.button(key="delete_model").click().run()
    assert not at.exception
    assert not (locked / "tiny").exists()


@pytest.fixture
def running_job(locked):
    """A job whose 'trainer' is a sleeping process: the page shows it running, with its Stop
    buttons, without the cost of a real trainer."""
    sleeper = subprocess.Popen(["sleep", "120"])
    runtime = locked / ".jobs"
    job_dir = runtime / "job-1"
    job_dir.mkdir(parents=True)
    config = {"epochs": 5, "batch_size": 128, "beta": 1.0, "kl_reduction": "mean", "train_on": "train",
              "limit": 300}
    info = JobInfo(id="job-1", name="sleepy", model_dir=str(locked / "sleepy"), config=config,
                   job_dir=str(job_dir), pid=sleeper.pid, pid_start=creation_time(sleeper.pid),
                   started=time.time())
    (job_dir / JOB_FILE).write_text(json.dumps(dataclasses.asdict(info)))
    (runtime / CURRENT_FILE).write_text(json.dumps({"id": "job-1"}))
    yield job_dir
    sleeper.kill()
    sleeper.wait()


def test_stop_needs_the_password(running_job):
    at = run("Train")
    assert at.get("progress"), "the job is shown running"
    assert at.button(key="stop_keep").disabled and at.button(key="stop_discard").disabled
    forge_click(at, "stop_discard")
    assert not (running_job / STOP_FILE).exists()
    at = unlock(at, "train", SECRET)
    assert not at.button(key="stop_keep").disabled
    at.button(key="stop_keep").click().run()
    assert json.loads((running_job / STOP_FILE).read_text()) == {"keep": True}
