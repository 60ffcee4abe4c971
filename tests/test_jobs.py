"""Background training jobs (vae.jobs): real trainer processes on a few hundred images.

Every spawned trainer imports TensorFlow (~5 s), so each test starts at most one, and
waits for conditions with a deadline rather than sleeping.
"""
import json
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import psutil
import pytest

from vae import jobfiles, jobs, processes, trainer
from vae.jobs import JobAlreadyRunning, JobManager
from vae.store import METADATA_FILE, MODEL_FILE, TMP_PREFIX

REPO = Path(__file__).resolve().parent.parent
TINY = {"epochs": 2, "limit": 300}
LONG = {"epochs": 500, "limit": 300, "patience": 500}  # minutes of training unless stopped


@pytest.fixture
def manager(tmp_path):
    m = JobManager(runtime_dir=tmp_path / "jobs", models_dir=tmp_path / "models", threads=1)
    yield m
    info = m.job()  # never leave a trainer behind, whatever the test did
    if info is not None and processes.process_state(info.pid, info.pid_start)[0]:
        os.kill(info.pid, signal.SIGKILL)
        m.wait(30)


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def events(info):
    path = Path(info.job_dir) / trainer.PROGRESS_FILE
    return [json.loads(line) for line in path.read_text().splitlines()]


def training_started(m):
    s = m.status()
    assert s.state == "running", s.error
    return s.phase == "training" and s.recent


def leftovers(models_dir):
    return sorted(p.name for p in models_dir.glob(TMP_PREFIX + "*")) if models_dir.exists() else []


def test_job_runs_to_completion_and_reports_in_order(manager, tmp_path):
    info = manager.start(TINY, name="tiny")
    status = manager.wait(120)
    assert status.state == "finished", status.error
    assert status.stop_reason == "completed" and status.phase == "done" and status.fraction == 1.0

    log = events(info)
    seqs = [e["seq"] for e in log]
    assert seqs == sorted(set(seqs)) and all(b > a for a, b in zip(seqs, seqs[1:]))
    kinds = [(e["type"], e.get("epoch")) for e in log]
    assert kinds[0] == ("started", None)
    assert kinds[-2:] == [("evaluating", None), ("finished", None)]
    rest = kinds[1:-2]
    for epoch in (1, 2):  # epoch_begin(k), batch(k)..., epoch_end(k), preview(k)
        assert rest.pop(0) == ("epoch_begin", epoch)
        n_batches = 0
        while rest[0] == ("batch", epoch):
            rest.pop(0)
            n_batches += 1
        assert n_batches >= (1 if epoch == 1 else 0)  # the first batch is always reported
        assert rest.pop(0) == ("epoch_end", epoch)
        assert rest.pop(0) == ("preview", epoch)
    assert rest == []
    batch = next(e for e in log if e["type"] == "batch")
    assert set(batch) >= {"batch", "batches", "loss", "reconstruction_loss", "kl_loss", "neg_elbo"}
    last_epoch = [e for e in log if e["type"] == "epoch_end"][-1]
    assert {"loss", "val_loss", "val_neg_elbo"} <= set(last_epoch["logs"])

    model_dir = tmp_path / "models" / "tiny"
    assert status.model_dir == str(model_dir) == log[-1]["model_dir"]
    assert (model_dir / MODEL_FILE).is_file() and (model_dir / METADATA_FILE).is_file()
    assert set(status.metrics) >= {"neg_elbo", "knn5_accuracy"}
    assert [h["epoch"] for h in status.history] == [1, 2]
    assert status.epoch == 2 and status.batch == status.batches == 3  # 270 images / 128

    from vae.model import load_vae
    model = load_vae(model_dir / MODEL_FILE)
    assert model.decode(np.zeros((1, 2))).shape == (1, 28, 28)

    preview = manager.preview()
    assert preview["z"].shape == (2000, 2) and preview["z"].dtype == np.float32
    assert preview["labels"].shape == (2000,) and preview["labels"].dtype == np.uint8
    assert preview["manifold"].shape == (336, 336) and preview["manifold"].dtype == np.uint8
    assert preview["epoch"] == 2 == status.preview_epoch
    assert preview["manifold"].max() > 0


@pytest.mark.parametrize("keep", [True, False], ids=["keep", "discard"])
def test_stop_ends_training_promptly(manager, tmp_path, keep):
    info = manager.start(LONG, name="partial")
    wait_for(lambda: training_started(manager), 90, "the first batch")
    asked = time.monotonic()
    assert manager.stop(keep=keep)
    # training itself must stop at the next batch: "evaluating" (keep) or the exit (discard)
    wait_for(lambda: manager.status().phase in ("evaluating", "done"), 15, "training to stop")
    stopped = time.monotonic() - asked
    status = manager.wait(90)
    exited = time.monotonic() - asked
    print(f"\nstop(keep={keep}): training stopped after {stopped:.2f} s, process exited after {exited:.2f} s")
    assert stopped < 15
    if not keep:
        assert exited < 15
    assert len(status.history) < LONG["epochs"]
    assert status.stop_requested
    model_dir = tmp_path / "models" / "partial"
    if keep:
        assert status.state == "stopped", status.error
        assert status.stop_reason == "stopped_by_user" and status.metrics
        assert (model_dir / MODEL_FILE).is_file()
        assert json.loads((model_dir / METADATA_FILE).read_text())["stop_reason"] == "stopped_by_user"
    else:
        assert status.state == "discarded", status.error
        assert events(info)[-1]["type"] == "discarded"
        assert not model_dir.exists()
    assert leftovers(tmp_path / "models") == []


def test_killed_trainer_is_failed_and_leaves_no_model(manager, tmp_path):
    info = manager.start(LONG, name="doomed")
    wait_for(lambda: training_started(manager), 90, "the first batch")
    os.kill(info.pid, signal.SIGKILL)
    status = manager.wait(30)
    assert status.state == "failed"
    assert status.error == "trainer process exited unexpectedly (exit code -9)"
    assert not (tmp_path / "models" / "doomed").exists()
    assert leftovers(tmp_path / "models") == []
    assert JobManager(manager.runtime_dir, manager.models_dir).status().state == "failed"


def test_second_start_is_refused_everywhere(manager, tmp_path):
    info = manager.start(LONG, name="first")
    with pytest.raises(JobAlreadyRunning):
        manager.start(TINY, name="second")
    other = JobManager(runtime_dir=manager.runtime_dir, models_dir=manager.models_dir)
    with pytest.raises(JobAlreadyRunning):
        other.start(TINY, name="second")
    assert other.status().id == info.id and other.status().state == "running"
    # another process knows the trainer only by its recorded pid
    code = ("import sys\nfrom vae.jobs import JobManager, JobAlreadyRunning\n"
            f"m = JobManager({str(manager.runtime_dir)!r}, {str(manager.models_dir)!r})\n"
            "try:\n    m.start({'epochs': 1, 'limit': 300}, name='third')\n"
            "except JobAlreadyRunning:\n    sys.exit(3)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=120)
    assert result.returncode == 3, result.stderr.decode()[-2000:]
    assert [p.name for p in manager.runtime_dir.iterdir() if p.is_dir()] == [info.id]
    assert manager.job().pid == info.pid
    with pytest.raises(JobAlreadyRunning):
        other.clear()  # a running job cannot be forgotten


def test_trainer_exception_is_reported_as_failed(manager, tmp_path):
    manager.start(TINY, name="taken")
    (tmp_path / "models" / "taken").mkdir(parents=True)  # appears after start's check
    status = manager.wait(90)
    assert status.state == "failed"
    assert status.error.startswith("FileExistsError") and "taken" in status.error
    assert list((tmp_path / "models" / "taken").iterdir()) == []  # not touched
    manager.clear()
    assert manager.status() is None and list(manager.runtime_dir.glob("2*")) == []


def test_bad_requests_are_refused_before_spawning(manager, tmp_path):
    with pytest.raises(ValueError, match="epochs"):
        manager.start({"epochs": 0})
    with pytest.raises(ValueError, match="unknown"):
        manager.start({"epochz": 3})
    for name in ("reference", "elbo-sum", "../escape", ".hidden", "a/b"):
        with pytest.raises(ValueError):
            manager.start(TINY, name=name)
    (tmp_path / "models" / "exists").mkdir(parents=True)
    with pytest.raises(FileExistsError):
        manager.start(TINY, name="exists")
    assert manager.status() is None and manager.job() is None
    assert manager.stop(keep=True) is False
    assert not any(p.is_dir() for p in manager.runtime_dir.glob("*"))


def read_events(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("keep", [True, False], ids=["keep", "discard"])
def test_callbacks_throttle_report_early_stopping_and_honour_stop(tmp_path, keep, monkeypatch):
    monkeypatch.setattr(trainer.time, "monotonic", lambda: 1e6)  # a frozen clock: no timing luck
    log = trainer.EventLog(tmp_path / trainer.PROGRESS_FILE)
    stop = trainer.StopRequest(tmp_path)
    progress = trainer.ProgressCallback(log, stop, preview=None, patience=1)
    model = types.SimpleNamespace(stop_training=False)  # all the callbacks touch
    for callback in (progress, stop):
        callback.set_model(model)
        callback.set_params({"epochs": 5, "steps": 1000, "verbose": 0})

    progress.on_epoch_begin(0)
    for b in range(1000):  # all within one throttle interval: one batch event
        progress.on_train_batch_end(b, {"loss": np.float32(2.0)})
        stop.on_train_batch_end(b)
    progress.on_epoch_end(0, {"loss": 2.0, "val_loss": 1.0})
    progress.on_epoch_begin(1)
    model.stop_training = True  # what EarlyStopping, which runs first, does
    progress.on_epoch_end(1, {"loss": 1.5, "val_loss": 1.2})
    kinds = [e["type"] for e in read_events(tmp_path / trainer.PROGRESS_FILE)]
    assert kinds == ["epoch_begin", "batch", "epoch_end", "epoch_begin", "epoch_end", "early_stopping"]
    early = read_events(tmp_path / trainer.PROGRESS_FILE)[-1]
    assert (early["epoch"], early["best_epoch"], early["best_val_loss"]) == (2, 1, 1.0)

    model.stop_training = False
    stop.on_train_batch_end(0)
    assert not stop.requested and not model.stop_training
    jobs.write_json_atomic(tmp_path / trainer.STOP_FILE, {"keep": keep})
    stop.on_train_batch_end(1)
    assert stop.requested and model.stop_training and stop.keep() is keep
    progress.on_train_end()
    assert (read_events(tmp_path / trainer.PROGRESS_FILE)[-1]["type"] == "evaluating") is keep


def test_a_stop_pressed_after_the_last_batch_still_counts(tmp_path):
    stop = trainer.StopRequest(tmp_path)
    model = types.SimpleNamespace(stop_training=False)
    stop.set_model(model)
    stop.on_train_batch_end(99)  # the last batch: no stop yet
    jobs.write_json_atomic(tmp_path / trainer.STOP_FILE, {"keep": False})  # during validation
    stop.on_epoch_end(0)
    assert stop.requested and model.stop_training and stop.keep() is False


def test_dead_or_reused_pid_is_not_alive():
    child = subprocess.Popen(["true"])  # exits at once and stays a zombie until reaped
    wait_for(lambda: psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE, 10, "a zombie")
    assert not processes.pid_alive(child.pid)
    child.wait()
    assert not processes.pid_alive(child.pid)
    me = processes.creation_time(os.getpid())
    assert processes.pid_alive(os.getpid(), me)
    assert not processes.pid_alive(os.getpid(), me - 5)  # same pid, another process
    assert processes.pid_alive(os.getpid(), "1234")  # an older job.json's /proc ticks: pid only


def test_damaged_event_lines_are_skipped(tmp_path):
    path = tmp_path / jobfiles.PROGRESS_FILE
    path.write_bytes(b'{"seq": 1, "time": 1.0, "type": "started"}\n\x00\x00garbage\n[1, 2]\n'
                     b'{"seq": 2, "time": 2.0, "type": "epoch_begin", "epoch": 1, "epochs": 2, "batches": 3}\n'
                     b'{"seq": 3, "time": 3.0, "ty')  # the last line is still being written
    reader = jobfiles.EventReader(path)
    assert [e["seq"] for e in reader.read()] == [1, 2]
    with open(path, "ab") as f:
        f.write(b'pe": "batch", "epoch": 1, "batch": 1, "batches": 3}\n')
    assert [e["seq"] for e in reader.read()] == [1, 2, 3]


def test_status_from_events_and_estimate():
    info = jobs.JobInfo(id="j", name="n", model_dir="/m/n", config={"epochs": 2, "batch_size": 100},
                        job_dir="/nowhere", pid=1, pid_start=None, started=100.0)
    ev = [{"type": "started"}, {"type": "epoch_begin", "epoch": 1, "epochs": 2, "batches": 10},
          {"type": "batch", "epoch": 1, "batch": 5, "batches": 10, "loss": 3.0}]
    ev = [{"seq": i, "time": 101.0 + i, **e} for i, e in enumerate(ev)]  # 5 batches in 1 s
    s = jobs.summarize(info, ev)
    assert (s.state, s.phase, s.epoch, s.batch, s.fraction) == ("running", "training", 1, 5, 0.25)
    assert s.samples_per_second == pytest.approx(500)
    assert s.eta == pytest.approx(15 / 5 + jobs.EVAL_SECONDS)
    assert s.recent[-1]["step"] == 5 and s.recent[-1]["loss"] == 3.0
    done = jobs.summarize(info, ev + [{"seq": 9, "time": 120.0, "type": "finished", "model_dir": "/m/n",
                                      "stop_reason": "stopped_by_user", "metrics": {}}])
    assert (done.state, done.phase, done.eta, done.elapsed) == ("stopped", "done", 0.0, 20.0)

    est = jobs.estimate_seconds({"epochs": 2, "limit": 1000}, samples_per_second=100)
    assert est == pytest.approx(900 * 2 / 100 + jobs.STARTUP_SECONDS + jobs.EVAL_SECONDS)
    assert jobs.estimate_seconds({"train_on": "all"}, 1000) > jobs.estimate_seconds({}, 1000)
