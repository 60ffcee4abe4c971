"""Faults a long-running server meets: a full disk, a read-only models folder, the server
killed mid-job, damaged versions. Each test provokes the fault for real.

A full or read-only disk is a small tmpfs mounted for the test: that needs root, which CI
has (.ci/run runs as root). Without root the read-only case falls back to chmod, and the
full-disk case is skipped, saying so.
"""
import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from vae import store
from vae.jobfiles import LOCK_FILE
from vae.jobs import JobManager, NotWritableError
from vae.processes import process_state

from conftest import REPO_ROOT
from test_app import run_app as run
from test_jobs import wait_for

APP = str(REPO_ROOT / "app.py")
TINY = {"epochs": 2, "limit": 300}
LONG = {"epochs": 500, "limit": 300, "patience": 500}  # minutes of training unless stopped


@pytest.fixture
def tmpfs(tmp_path):
    """mount(size) → a fresh tmpfs directory of that size; remount_ro(dir) makes it read-only."""
    mounted = []

    def mount(size, name="models"):
        target = tmp_path / name
        target.mkdir()
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root (CI runs as root)")
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"mount is not permitted here: {result.stderr.strip()}")
        mounted.append(target)
        return target

    def remount_ro(target):
        subprocess.run(["mount", "-o", "remount,ro", str(target)], check=True)

    mount.remount_ro = remount_ro
    yield mount
    for target in mounted:
        subprocess.run(["umount", "-l", str(target)], check=False)


def read_only_dir(tmpfs, tmp_path, fill=None):
    """A read-only directory: a read-only tmpfs as root, else chmod 555 (root ignores modes)."""
    if os.geteuid() == 0:
        target = tmpfs("8m")
        if fill:
            fill(target)
        tmpfs.remount_ro(target)
    else:
        target = tmp_path / "models"
        target.mkdir()
        if fill:
            fill(target)
        for path in [target, *target.rglob("*")]:
            if path.is_dir():
                path.chmod(0o555)
    return target


def kill_leftover_trainer(manager):
    info = manager.job()
    if info is not None and process_state(info.pid, info.pid_start)[0]:
        os.kill(info.pid, signal.SIGKILL)
        manager.wait(30)


def lock_is_free(runtime_dir):
    with open(runtime_dir / LOCK_FILE, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(f, fcntl.LOCK_UN)
        return True


def leftovers(models_dir):
    return sorted(p.name for p in models_dir.glob(store.TMP_PREFIX + "*"))


# --- disk full ---------------------------------------------------------------------------

def test_a_full_disk_fails_the_save_cleanly_and_other_versions_still_load(tmpfs, tiny_model_dir):
    models = tmpfs("2m")  # room for the existing version (1.2 MB) and the job files, not a second model
    shutil.copytree(tiny_model_dir, models / "tiny")
    manager = JobManager(models_dir=models, threads=1)  # job files on the same full disk, as in production
    try:
        manager.start(TINY, name="new")
        status = manager.wait(180)
    finally:
        kill_leftover_trainer(manager)
    assert status.state == "failed"
    assert status.error.startswith("the disk is full: no space left to save the model in"), status.error
    assert "No space left on device" in status.error
    assert not (models / "new").exists() and leftovers(models) == []
    assert [p.name for p in store.list_model_dirs(models)] == ["tiny"]
    assert store.version_damage(models / "tiny") is None
    from vae.model import load_vae
    import numpy as np
    model = load_vae(models / "tiny" / store.MODEL_FILE)
    assert model.decode(np.zeros((1, 2), "float32")).shape == (1, 28, 28)


# --- read-only models folder -------------------------------------------------------------

def test_a_read_only_models_folder_refuses_training_before_spawning(tmpfs, tmp_path):
    models = read_only_dir(tmpfs, tmp_path)
    manager = JobManager(models_dir=models, threads=1)
    reason = "Read-only file system" if os.geteuid() == 0 else "Permission denied"
    with pytest.raises(NotWritableError, match=f"models folder {models} is not writable \\({reason}\\)"):
        manager.start(TINY, name="never")
    assert manager.job() is None and list(models.iterdir()) == []


@pytest.fixture
def app_models(monkeypatch):
    """Point the app (store and job manager) at a models folder chosen by the test."""
    import vae.jobs
    from vae.ui import training

    def use(root):
        monkeypatch.setenv("VAE_MODELS_DIR", str(root))
        training.job_manager.clear()
        return root

    monkeypatch.delenv("VAE_TRAINING", raising=False)
    monkeypatch.delenv("VAE_MAX_EPOCHS", raising=False)
    monkeypatch.delenv("VAE_OPERATOR_PASSWORD", raising=False)
    yield use
    training.job_manager.clear()


def test_the_train_tab_says_why_a_read_only_folder_cannot_train(tmpfs, tmp_path, app_models):
    models = read_only_dir(tmpfs, tmp_path, fill=lambda d: shutil.copytree(
        REPO_ROOT / "models" / "reference", d / "reference"))
    app_models(models)
    at = run("Train")
    at.number_input(key="train_limit").set_value(300).run()
    at.button(key="train_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert any("not writable" in e and str(models) in e for e in errors), errors
    assert not (models / ".jobs").exists()


# --- kill -9 of the server ---------------------------------------------------------------

SERVER = """
import json, sys, time
from vae.jobs import JobManager
m = JobManager({runtime!r}, {models!r}, threads=1)
info = m.start({config!r}, name="orphan")
print(json.dumps({{"pid": info.pid}}), flush=True)
time.sleep(600)  # a server idling while its job trains; the test kills it
"""


def start_server(tmp_path, new_session):
    runtime, models = tmp_path / "jobs", tmp_path / "models"
    code = SERVER.format(runtime=str(runtime), models=str(models), config=LONG)
    server = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, text=True,
                              start_new_session=new_session)
    trainer_pid = json.loads(server.stdout.readline())["pid"]
    manager = JobManager(runtime, models, threads=1)  # the restarted server
    return server, trainer_pid, manager


def training_started(manager):
    s = manager.status()
    assert s.state == "running", s.error
    return s.phase == "training" and s.recent


def test_a_trainer_outliving_a_killed_server_is_adopted_after_the_restart(tmp_path):
    server, trainer_pid, manager = start_server(tmp_path, new_session=False)
    try:
        wait_for(lambda: training_started(manager), 120, "the first batch")
        server.kill()  # SIGKILL: no cleanup of any kind
        server.wait(10)
        assert lock_is_free(manager.runtime_dir)
        # the trainer is its own process: it keeps training and the new server follows it
        status = manager.status()
        assert status.state == "running" and manager.job().pid == trainer_pid
        batches = len(status.recent)
        wait_for(lambda: len(manager.status().recent) > batches, 30, "more progress after the restart")
        assert manager.stop(keep=False)
        final = manager.wait(60)
        assert final.state == "discarded", final.error
    finally:
        server.kill()
        kill_leftover_trainer(manager)
    assert lock_is_free(manager.runtime_dir)
    assert not (tmp_path / "models" / "orphan").exists()


def test_a_server_killed_with_its_trainer_leaves_no_ghost_job(tmp_path):
    # what a service manager does on restart: SIGKILL to the whole process group
    server, trainer_pid, manager = start_server(tmp_path, new_session=True)
    try:
        wait_for(lambda: training_started(manager), 120, "the first batch")
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)
        status = wait_for(lambda: (s := manager.status()).state != "running" and s, 10, "the job to end")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        kill_leftover_trainer(manager)
    assert status.state == "failed"
    assert status.error == "trainer process exited unexpectedly (exit code unknown)"
    assert lock_is_free(manager.runtime_dir)
    manager.clear()  # takes the lock: would hang if a dead server still held it
    assert manager.status() is None
    assert not (tmp_path / "models" / "orphan").exists() and leftovers(tmp_path / "models") == []


# --- damaged versions --------------------------------------------------------------------

@pytest.fixture
def damaged_models(tmp_path, app_models, tiny_model_dir):
    root = tmp_path / "models"
    root.mkdir()
    shutil.copytree(REPO_ROOT / "models" / "reference", root / "reference")
    for name in ("no-meta", "bad-meta", "cut"):
        shutil.copytree(tiny_model_dir, root / name)
    (root / "no-meta" / store.METADATA_FILE).unlink()
    (root / "bad-meta" / store.METADATA_FILE).write_text('{"options": {"beta": ')
    keras = root / "cut" / store.MODEL_FILE
    keras.write_bytes(keras.read_bytes()[: keras.stat().st_size // 2])
    return app_models(root)


DAMAGE = {"no-meta": "no metadata.json", "bad-meta": "unreadable metadata.json",
          "cut": "model.keras is truncated or not a .keras file"}


def test_the_picker_lists_damaged_versions_and_refuses_to_open_them(damaged_models):
    at = run("Model")
    picker = at.sidebar.selectbox(key="model_picker")
    labels = {option.split(" ")[0]: option for option in picker.options}
    for name, reason in DAMAGE.items():
        assert labels[name] == f"{name} (damaged: {reason})"
    assert labels["reference"].startswith("reference (shipped) · ")
    for name, reason in DAMAGE.items():
        at.sidebar.selectbox(key="model_picker").set_value(name).run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.session_state["active_model"] == "reference"  # still on the last good model
        assert any(f"“{name}” is damaged ({reason})" in w.value for w in at.sidebar.warning)
        assert at.sidebar.selectbox(key="model_picker").value == "reference"
        assert any("“reference”" in h.value for h in at.subheader)


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_a_link_to_a_damaged_version_shows_an_error_and_a_way_back(damaged_models, name):
    at = run(model=name)
    assert any(f"Could not load the model “{name}”" in e.value for e in at.error)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["active_model"] == "reference"
    assert not at.error


def test_a_start_that_cannot_write_its_files_leaves_no_trainer_and_no_files(tmp_path, monkeypatch):
    import errno
    import vae.jobs
    from vae.jobfiles import CURRENT_FILE
    from vae.processes import pid_alive

    real_write, real_spawn, spawned = vae.jobs.write_json_atomic, vae.jobs.spawn_trainer, []

    def write(path, obj):
        if path.name == CURRENT_FILE:  # the last step: the trainer is already running
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(path, obj)

    def spawn(job_dir):
        spawned.append(real_spawn(job_dir))
        return spawned[-1]

    monkeypatch.setattr(vae.jobs, "write_json_atomic", write)
    monkeypatch.setattr(vae.jobs, "spawn_trainer", spawn)
    manager = JobManager(tmp_path / "jobs", tmp_path / "models", threads=1)
    with pytest.raises(OSError, match="No space left"):
        manager.start(TINY, name="never")
    assert len(spawned) == 1 and not pid_alive(spawned[0].pid)
    assert manager.job() is None and manager.status() is None
    assert [p for p in manager.runtime_dir.iterdir() if p.is_dir()] == []
