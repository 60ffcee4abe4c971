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

from vae.store import disk
from vae.jobs import NotWritableError
from vae.jobs.events import LOCK_FILE
from vae.jobs.local import LocalRunner

from conftest import REPO_ROOT
from helpers import LONG, TINY, leftovers, training, wait_for
from test_app import run_app as run

APP = str(REPO_ROOT / "app.py")
OWNER = "f" * 24


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


def stop_everything(runner):
    for s in runner.jobs():
        if s.active:
            runner.stop(s.id, operator=True)
    runner.close()


def lock_is_free(runtime_dir):
    with open(runtime_dir / LOCK_FILE, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(f, fcntl.LOCK_UN)
        return True


# --- disk full ---------------------------------------------------------------------------

def test_a_full_disk_fails_the_save_cleanly_and_other_versions_still_load(tmpfs, tiny_model_dir):
    # room for the existing version and the job files, not a second model: sized from the version
    # itself, which grows with what a version keeps (browser files, thumbnails)
    version_kb = sum(p.stat().st_size for p in tiny_model_dir.iterdir()) // 1024
    models = tmpfs(f"{version_kb + 512}k")
    shutil.copytree(tiny_model_dir, models / "tiny")
    runner = LocalRunner(models_dir=models, cpus=1)  # job files on the same full disk, as in production
    try:
        status = runner.wait(runner.submit(TINY, OWNER, name="new"), 180)
    finally:
        stop_everything(runner)
    assert status.state == "failed"
    assert status.error.startswith("the disk is full: no space left to save the model in"), status.error
    assert "No space left on device" in status.error
    assert not (models / "new").exists() and leftovers(models) == []
    assert [p.name for p in disk.list_model_dirs(models)] == ["tiny"]
    assert disk.version_damage(models / "tiny") is None
    from vae.ml.model import load_vae
    import numpy as np
    model = load_vae(models / "tiny" / disk.MODEL_FILE)
    assert model.decode(np.zeros((1, 2), "float32")).shape == (1, 28, 28)


# --- read-only models folder -------------------------------------------------------------

def test_a_read_only_models_folder_refuses_training_before_spawning(tmpfs, tmp_path):
    models = read_only_dir(tmpfs, tmp_path)
    runner = LocalRunner(models_dir=models, cpus=1, dispatch=False)
    reason = "Read-only file system" if os.geteuid() == 0 else "Permission denied"
    with pytest.raises(NotWritableError, match=f"models folder {models} is not writable \\({reason}\\)"):
        runner.submit(TINY, OWNER, name="never")
    assert runner.jobs() == [] and list(models.iterdir()) == []


@pytest.fixture
def app_models(monkeypatch):
    """Point the app (its models folder and job runner) at a folder chosen by the test."""
    from vae.settings import SETTINGS
    from vae.ui import training

    def use(root):
        monkeypatch.setenv("VAE_MODELS_DIR", str(root))
        training._cached_runner.clear()
        return root

    for setting in SETTINGS.values():
        if setting.env != "VAE_MODELS_DIR":
            monkeypatch.delenv(setting.env, raising=False)
    yield use
    training._cached_runner.clear()


def test_the_train_tab_says_why_a_read_only_folder_cannot_train(tmpfs, tmp_path, app_models):
    models = read_only_dir(tmpfs, tmp_path, fill=lambda d: shutil.copytree(
        REPO_ROOT / "models" / "reference", d / "reference"))
    app_models(models)
    at = run("Train", state={"browser_identity": {"token": "T" * 22}})
    at.number_input(key="train_limit").set_value(300).run()
    at.button(key="train_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert any("not writable" in e and str(models) in e for e in errors), errors
    assert not (models / ".jobs").exists()


# --- kill -9 of the server ---------------------------------------------------------------

SERVER = """
import json, sys, time
from vae.jobs.local import LocalRunner
runner = LocalRunner(models_dir={models!r}, max_jobs=1, cpus=1)
ids = [runner.submit({config!r}, {owner!r}, name="orphan"), runner.submit({tiny!r}, "b" * 24, name="next")]
print(json.dumps(ids), flush=True)
time.sleep(600)  # a server idling while its job trains; the test kills it
"""


def start_server(tmp_path, new_session):
    models = tmp_path / "models"
    code = SERVER.format(models=str(models), config=LONG, tiny=TINY, owner=OWNER)
    server = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, text=True,
                              start_new_session=new_session)
    ids = json.loads(server.stdout.readline())
    runner = LocalRunner(models_dir=models, max_jobs=1, cpus=1, dispatch=False)  # the restarted server
    return server, ids, runner


@pytest.mark.trainer
def test_a_trainer_outliving_a_killed_server_is_adopted_after_the_restart(tmp_path):
    server, (orphan, waiting), runner = start_server(tmp_path, new_session=False)
    try:
        wait_for(lambda: training(runner, orphan), 120, "the first batch")
        server.kill()  # SIGKILL: no cleanup of any kind
        server.wait(10)
        assert lock_is_free(runner.runtime_dir)
        # the trainer is its own process: it keeps training, the new server follows it, and
        # the queue is still there
        status = runner.status(orphan)
        assert status.state == "running" and runner.status(waiting).position == 1
        batches = len(status.recent)
        wait_for(lambda: len(runner.status(orphan).recent) > batches, 30, "more progress after the restart")
        assert runner.stop(orphan, owner=OWNER)
        assert runner.wait(orphan, 60).state == "discarded"
        assert runner.status(waiting).state == "running"  # the new server started the next one
    finally:
        server.kill()
        stop_everything(runner)
    assert lock_is_free(runner.runtime_dir)
    assert not (tmp_path / "models" / "orphan").exists()


@pytest.mark.trainer
def test_a_server_killed_with_its_trainer_leaves_no_ghost_job(tmp_path):
    # what a service manager does on restart: SIGKILL to the whole process group
    server, (orphan, waiting), runner = start_server(tmp_path, new_session=True)
    try:
        wait_for(lambda: training(runner, orphan), 120, "the first batch")
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)
        status = wait_for(lambda: (s := runner.status(orphan)).state != "running" and s, 10, "the job to end")
        assert status.state == "failed"
        assert status.error.startswith("the trainer process ended without reporting"), status.error
        assert lock_is_free(runner.runtime_dir)
        runner.dispatch()  # takes the lock: would hang if a dead server still held it
        assert runner.status(waiting).state == "running"  # the slot is free: the queue goes on
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        stop_everything(runner)
    assert not (tmp_path / "models" / "orphan").exists() and leftovers(tmp_path / "models") == []


# --- damaged versions --------------------------------------------------------------------

@pytest.fixture
def damaged_models(tmp_path, app_models, tiny_model_dir):
    root = tmp_path / "models"
    root.mkdir()
    shutil.copytree(REPO_ROOT / "models" / "reference", root / "reference")
    for name in ("no-meta", "bad-meta", "cut"):
        shutil.copytree(tiny_model_dir, root / name)
    (root / "no-meta" / disk.METADATA_FILE).unlink()
    (root / "bad-meta" / disk.METADATA_FILE).write_text('{"options": {"beta": ')
    keras = root / "cut" / disk.MODEL_FILE
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
        assert any(m.value.startswith("## Model “reference”") for m in at.markdown)


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_a_link_to_a_damaged_version_shows_an_error_and_a_way_back(damaged_models, name):
    at = run(model=name)
    assert any(f"Could not load the model “{name}”" in e.value for e in at.error)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["active_model"] == "reference"
    assert not at.error


@pytest.mark.trainer
@pytest.mark.parametrize("failing", ["job.json", "run.json"])
def test_a_submit_or_start_that_cannot_write_its_files_leaves_no_trainer_and_no_job(tmp_path, monkeypatch, failing):
    import errno

    from vae.jobs import folder, local
    from vae.jobs.processes import pid_alive

    real_write, real_spawn, spawned = local.write_json_atomic, local.spawn_trainer, []

    def write(path, obj):
        if path.name == failing:  # job.json: the submission's last step; run.json: the start's
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(path, obj)

    def spawn(job_dir):
        spawned.append(real_spawn(job_dir))
        return spawned[-1]

    monkeypatch.setattr(local, "write_json_atomic", write)  # run.json
    monkeypatch.setattr(folder, "write_json_atomic", write)  # job.json
    monkeypatch.setattr(local, "spawn_trainer", spawn)
    runner = LocalRunner(models_dir=tmp_path / "models", cpus=1, dispatch=False)
    with pytest.raises(OSError, match="No space left"):
        runner.submit(TINY, OWNER, name="never")
    assert all(not pid_alive(p.pid) for p in spawned)  # a trainer that was spawned is gone
    if failing == "job.json":
        assert spawned == [] and runner.jobs() == []
        assert [p for p in runner.runtime_dir.iterdir() if p.is_dir()] == []
    else:  # the job stays queued, to be started when the disk has room
        assert len(spawned) == 1 and [s.state for s in runner.jobs()] == ["queued"]
    assert not (tmp_path / "models" / "never").exists()
