"""Who may train and delete: the operator password (vae.operator_password) and the page's lock."""
import pytest
from streamlit.testing.v1 import AppTest

from vae import operator_password as op
from vae.settings import SETTINGS

from conftest import REPO_ROOT
from helpers import LONG, wait_for

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
    jobs = models_dir / ".jobs"
    return jobs.is_dir() and any(p.is_dir() for p in jobs.iterdir())


ALICE = {"browser_identity": {"token": "alice-browser-secret-0000"}}


def test_without_a_password_nothing_is_locked(models_dir):
    at = run("Train", **ALICE)
    assert not [t for t in at.text_input if t.key == "train_password"]
    assert not at.button(key="train_start").disabled


def test_locked_start_is_disabled_and_refused_even_when_clicked(locked):
    at = run("Train", **ALICE)
    assert any("need the operator password" in i.value and ENV_VAR in i.value for i in at.info)
    assert at.button(key="train_start").disabled
    forge_click(at, "train_start")
    assert not job_started(locked)


def test_a_wrong_password_is_refused_and_the_right_one_unlocks(locked):
    at = unlock(run("Train", **ALICE), "train", "guess")
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
    at = unlock(run("Train", **ALICE), "train", SECRET)
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
def someones_job(locked):
    """A real job of another person (Bob), running."""
    from vae.jobs.people import owner_id
    from vae.ui import training
    runner = training.job_runner()
    job = runner.submit(LONG, owner_id("bob-browser-secret-000000"))
    wait_for(lambda: runner.status(job).state == "running", 120, "Bob's job to start")
    yield runner, job
    runner.stop(job, operator=True)


def test_only_the_operator_may_stop_someone_elses_job(someones_job):
    runner, job = someones_job
    at = run("Train", browser_identity={"token": "alice-browser-secret-0000"})
    assert not [b for b in at.button if b.key in ("stop_keep", "stop_discard", "operator_stop")]
    at = unlock(at, "train", SECRET)
    assert at.selectbox(key="operator_stop_pick").value == job
    at.button(key="operator_stop").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert runner.wait(job, 60).state == "discarded"


def test_the_operator_may_queue_any_number_of_jobs(locked):
    from vae.ui import training
    at = unlock(run("Train", browser_identity={"token": "teacher-browser-secret-00"}), "train", SECRET)
    at.number_input(key="train_limit").set_value(300).run()
    at.slider(key="train_epochs@fast").set_value(1).run()
    at.button(key="train_start").click().run()
    assert not at.button(key="train_start").disabled  # an operator is never "one at a time"
    at.button(key="train_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    runner = training.job_runner()
    mine = [s for s in runner.jobs() if s.active]
    assert len(mine) == 2
    for s in mine:
        runner.stop(s.id, operator=True)
