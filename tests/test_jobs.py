"""The pieces of vae.jobs below the runners' contract (tests/test_runners.py): events and their
folding, estimates, owner names, the trainer's callbacks, process liveness, and what only the
local runner does (several slots, a queue that outlives its server)."""
import dataclasses
import json
import os
import signal
import subprocess
import types

import psutil
import pytest

from vae.jobs import estimates, events, people, processes, record, trainer
from vae.jobs.local import LocalRunner
from vae.jobs.record import JobInfo
from vae.ml.config import TrainConfig
from vae.store.disk import write_json_atomic

from helpers import LONG, TINY, training, wait_for


# -- events ------------------------------------------------------------------------------

def test_damaged_event_lines_are_skipped(tmp_path):
    path = tmp_path / events.PROGRESS_FILE
    path.write_bytes(b'{"seq": 1, "time": 1.0, "type": "started"}\n\x00\x00garbage\n[1, 2]\n'
                     b'{"seq": 2, "time": 2.0, "type": "epoch_begin", "epoch": 1, "epochs": 2, "batches": 3}\n'
                     b'{"seq": 3, "time": 3.0, "ty')  # the last line is still being written
    reader = events.EventReader(path)
    assert [e["seq"] for e in reader.read()] == [1, 2]
    with open(path, "ab") as f:
        f.write(b'pe": "batch", "epoch": 1, "batch": 1, "batches": 3}\n')
    assert [e["seq"] for e in reader.read()] == [1, 2, 3]


def info(**config):
    return JobInfo(id="j", name="n", owner="o", config=TrainConfig(**{"epochs": 2, "batch_size": 100, **config}),
                   model_dir="/m/n", job_dir="/nowhere", submitted=90.0)


def test_progress_is_folded_from_the_events():
    ev = [{"type": "started"}, {"type": "epoch_begin", "epoch": 1, "epochs": 2, "batches": 10},
          {"type": "batch", "epoch": 1, "batch": 5, "batches": 10, "loss": 3.0}]
    ev = [{"seq": i, "time": 100.0 + i, **e} for i, e in enumerate(ev)]  # 5 batches in 1 s
    s = events.new_status(info(), "local")
    s.state = "running"
    events.fold_events(s, ev)
    assert (s.state, s.phase, s.epoch, s.batch, s.fraction) == ("running", "training", 1, 5, 0.25)
    assert s.started == 100.0 and s.startup_seconds == 1.0
    assert s.samples_per_second == pytest.approx(500)
    assert s.eta == pytest.approx(15 / 5 + events.EVAL_SECONDS)
    assert s.recent[-1]["step"] == 5 and s.recent[-1]["loss"] == 3.0
    done = events.finish(events.fold_events(events.new_status(info(), "local"), ev + [
        {"seq": 9, "time": 120.0, "type": "finished", "model_dir": "/m/n", "stop_reason": "stopped_by_user",
         "metrics": {}}]))
    assert (done.state, done.phase, done.eta, done.elapsed, done.ended) == ("stopped", "done", 0.0, 20.0, 120.0)


def test_the_trainers_own_end_wins_over_the_runners_verdict():
    s = events.fold_events(events.new_status(info(), "local"),
                           [{"seq": 1, "time": 5.0, "type": "failed", "error": "ValueError: bad"}])
    events.end(s, {"state": "discarded", "time": 6.0})
    assert (s.state, s.error) == ("failed", "ValueError: bad")
    s = events.end(events.new_status(info(), "local"), {"state": "failed", "time": 6.0, "reason": "gone"})
    assert (s.state, s.error, s.ended) == ("failed", "gone", 6.0)


# -- the job record (job.json, args.json) ------------------------------------------------

def every_option_changed():
    """A TrainConfig whose every option differs from its default: a round trip that dropped
    or defaulted any of them shows. A new option fails here until it is given a value."""
    config = TrainConfig(epochs=7, batch_size=64, beta=2.5, kl_reduction="sum", latent_dim=3, train_on="all",
                         limit=500, seed=11, val_fraction=0.2, patience=4, learning_rate=5e-4,
                         lr_schedule="cosine", warmup_epochs=1.5, kl_warmup_epochs=2.0, dataset="fashion-mnist",
                         arch="mlp", recipe="fast")
    unchanged = [f.name for f in dataclasses.fields(TrainConfig) if getattr(config, f.name) == f.default]
    assert unchanged == [], unchanged
    config.validate()
    return config


def test_args_json_gives_the_trainer_the_config_it_was_given(tmp_path):
    config = every_option_changed()
    job = JobInfo(id="j", name="n", owner="o", config=config, model_dir=str(tmp_path / "n"),
                  job_dir=str(tmp_path), submitted=90.0, cpus=3)
    record.write_args(job, log_to_file=False)
    args = record.read_args(tmp_path)
    assert isinstance(args.config, TrainConfig) and args.config == config
    assert (args.job_dir, args.out_dir, args.threads, args.log_to_file) == (str(tmp_path), str(tmp_path / "n"),
                                                                            3, False)
    assert JobInfo.from_json(json.loads(json.dumps(job.to_json()))) == job  # job.json, likewise


OLD_CONFIG = {"epochs": 2, "batch_size": 128, "beta": 1.0, "kl_reduction": "mean", "latent_dim": 2,
              "train_on": "train", "limit": 300, "seed": 0, "val_fraction": 0.1, "patience": 3,
              "learning_rate": 0.001}  # TrainConfig's first options: no dataset, architecture, schedule, recipe


def test_a_job_folder_written_before_the_typed_record_still_reads(local):
    runner = local(max_jobs=1, dispatch=False)  # nothing starts: the folder is only read
    for job_id, state in (("vae-20240101-000000-aaaa", "cancelled"), ("vae-20240101-000001-bbbb", None)):
        job_dir = runner.runtime_dir / job_id
        job_dir.mkdir(parents=True)
        # as the old code wrote them: the config a plain dict, no cpus, args.json without log_to_file
        write_json_atomic(job_dir / events.JOB_FILE, {
            "id": job_id, "name": job_id, "owner": "a" * 24, "config": OLD_CONFIG,
            "model_dir": str(runner.models_dir / job_id), "job_dir": str(job_dir), "submitted": 1.0})
        if state is not None:
            write_json_atomic(job_dir / events.ARGS_FILE, {"job_dir": str(job_dir), "config": OLD_CONFIG,
                                                           "out_dir": str(runner.models_dir / job_id), "threads": 1})
            write_json_atomic(job_dir / events.END_FILE, {"state": state, "time": 2.0})
    queued, cancelled = runner.jobs()
    assert (queued.state, queued.position, cancelled.state) == ("queued", 1, "cancelled")
    expected = TrainConfig(**OLD_CONFIG)  # the options it left out: TrainConfig's defaults, as it ran then
    assert queued.config == cancelled.config == expected and expected.arch == "reference"
    assert queued.start_eta == 0.0 and queued.epochs == 2
    args = record.read_args(runner.runtime_dir / cancelled.id)
    assert (args.config, args.log_to_file) == (expected, True)


# -- estimates ---------------------------------------------------------------------------

def test_estimates_follow_the_config_and_the_measured_speed():
    speed = estimates.Speed(100.0, 5.0, "test")
    est = estimates.estimate_seconds({"epochs": 2, "limit": 1000}, speed)
    assert est == pytest.approx(900 * 2 / 100 + 5.0 + events.EVAL_SECONDS)
    assert estimates.estimate_seconds({"train_on": "all"}, speed) > estimates.estimate_seconds({}, speed)
    assert estimates.estimate_seconds({"epochs": 4}, speed) > estimates.estimate_seconds({"epochs": 2}, speed)


def test_a_queued_job_starts_when_the_slot_it_waits_for_frees():
    # two slots, busy for 10 s and 30 s; three jobs of 20 s wait
    assert estimates.start_times([10.0, 30.0], [20.0, 20.0, 20.0], slots=2) == [10.0, 30.0, 30.0]
    assert estimates.start_times([], [5.0, 5.0], slots=1) == [0.0, 5.0]
    assert estimates.start_times([7.0], [1.0], slots=3) == [0.0]


def test_speed_comes_from_this_runners_jobs_else_names_its_source():
    finished = events.new_status(info(arch="large"), "local")
    finished.state, finished.samples_per_second, finished.startup_seconds, finished.ended = "finished", 900.0, 6.0, 1.0
    measured = estimates.measured_speed([finished], "large", fallback=lambda: None)
    assert (measured.images_per_second, measured.startup_seconds) == (900.0, 6.0)
    assert "this server" in measured.source
    versions = [("reference", {"samples_per_second": 7000, "train_images": 54000, "epochs_run": 30}),
                ("tiny", {"samples_per_second": 300, "train_images": 270, "epochs_run": 2})]
    fallback = estimates.speed_from_versions(versions, "reference")
    assert fallback.images_per_second == 7000 and "“reference” was trained" in fallback.source
    assert "rough guess" in estimates.speed_from_versions(versions, "large").source


# -- people ------------------------------------------------------------------------------

def test_owner_ids_come_only_from_well_formed_tokens_and_names_are_stable():
    token = "A" * 22
    assert people.owner_id(token) == people.owner_id(token) != people.owner_id("B" * 22)
    assert token not in people.owner_id(token)
    for bad in (None, "", "short", "x" * 65, "has space" * 4, "../../etc/passwd0000000", 12345):
        assert people.owner_id(bad) is None
    name = people.display_name(people.owner_id(token))
    assert name == people.display_name(people.owner_id(token)) and "-" in name


# -- the trainer's callbacks -------------------------------------------------------------

def read_events(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("keep", [True, False], ids=["keep", "discard"])
def test_callbacks_throttle_report_early_stopping_and_honour_stop(tmp_path, keep, monkeypatch):
    monkeypatch.setattr(trainer.time, "monotonic", lambda: 1e6)  # a frozen clock: no timing luck
    log = events.EventLog(tmp_path / events.PROGRESS_FILE)
    stop = trainer.keras_callbacks()["StopRequest"](tmp_path)
    progress = trainer.keras_callbacks()["ProgressCallback"](log, stop, preview=None, patience=1)
    model = types.SimpleNamespace(stop_training=False)  # all the callbacks touch
    for callback in (progress, stop):
        callback.set_model(model)
        callback.set_params({"epochs": 5, "steps": 1000, "verbose": 0})

    progress.on_epoch_begin(0)
    for b in range(1000):  # all within one throttle interval: one batch event
        progress.on_train_batch_end(b, {"loss": 2.0})
        stop.on_train_batch_end(b)
    progress.on_epoch_end(0, {"loss": 2.0, "val_loss": 1.0})
    progress.on_epoch_begin(1)
    model.stop_training = True  # what EarlyStopping, which runs first, does
    progress.on_epoch_end(1, {"loss": 1.5, "val_loss": 1.2})
    kinds = [e["type"] for e in read_events(tmp_path / events.PROGRESS_FILE)]
    assert kinds == ["epoch_begin", "batch", "epoch_end", "epoch_begin", "epoch_end", "early_stopping"]
    early = read_events(tmp_path / events.PROGRESS_FILE)[-1]
    assert (early["epoch"], early["best_epoch"], early["best_val_loss"]) == (2, 1, 1.0)

    model.stop_training = False
    stop.on_train_batch_end(0)
    assert not stop.requested and not model.stop_training
    write_json_atomic(tmp_path / events.STOP_FILE, {"keep": keep})
    stop.on_train_batch_end(1)
    assert stop.requested and model.stop_training and stop.keep() is keep
    progress.on_train_end()
    assert (read_events(tmp_path / events.PROGRESS_FILE)[-1]["type"] == "evaluating") is keep


def test_a_stop_pressed_after_the_last_batch_still_counts(tmp_path):
    stop = trainer.keras_callbacks()["StopRequest"](tmp_path)
    model = types.SimpleNamespace(stop_training=False)
    stop.set_model(model)
    stop.on_train_batch_end(99)  # the last batch: no stop yet
    write_json_atomic(tmp_path / events.STOP_FILE, {"keep": False})  # during validation
    stop.on_epoch_end(0)
    assert stop.requested and model.stop_training and stop.keep() is False


def test_a_trainer_cancelled_before_it_started_leaves_at_once(tmp_path):
    write_json_atomic(tmp_path / events.STOP_FILE, {"keep": False})
    write_json_atomic(tmp_path / events.ARGS_FILE, {"job_dir": str(tmp_path), "config": TINY,
                                                    "out_dir": str(tmp_path / "never"), "threads": 1})
    import sys
    out = subprocess.run([sys.executable, "-m", "vae.trainer", str(tmp_path)], capture_output=True, timeout=120,
                         cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.returncode == 0
    assert [e["type"] for e in read_events(tmp_path / events.PROGRESS_FILE)] == ["started", "discarded"]
    assert not (tmp_path / "never").exists()


def test_dead_or_reused_pid_is_not_alive():
    child = subprocess.Popen(["true"])  # exits at once and stays a zombie until reaped
    wait_for(lambda: psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE, 10, "a zombie")
    assert not processes.pid_alive(child.pid)
    child.wait()
    assert not processes.pid_alive(child.pid)
    me = processes.creation_time(os.getpid())
    assert processes.pid_alive(os.getpid(), me)
    assert not processes.pid_alive(os.getpid(), me - 5)  # same pid, another process


# -- the local runner's own behaviour ---------------------------------------------------

@pytest.fixture
def local(tmp_path):
    made = []

    def make(**options):
        runner = LocalRunner(models_dir=tmp_path / "models", cpus=1, **options)
        made.append(runner)
        return runner
    yield make
    for runner in made:
        for s in runner.jobs():
            if s.active:
                runner.stop(s.id, operator=True)
        runner.close()


@pytest.mark.trainer
def test_two_slots_train_two_jobs_at_once_and_the_third_waits(local):
    runner = local(max_jobs=2)
    ids = [runner.submit(LONG, owner) for owner in ("a" * 24, "b" * 24, "c" * 24)]
    wait_for(lambda: all(training(runner, i) for i in ids[:2]), 240, "two jobs training")
    states = [(s.state, s.position) for s in map(runner.status, ids)]
    assert states == [("running", None), ("running", None), ("queued", 1)]
    runner.stop(ids[0], owner="a" * 24)
    wait_for(lambda: runner.status(ids[2]).state == "running", 60, "the third to take the free slot")


@pytest.mark.trainer
def test_the_queue_and_the_running_trainer_outlive_the_runner(local):
    before = local(max_jobs=1, dispatch=False)  # the server that will "die"
    first, second = before.submit(LONG, "a" * 24), before.submit(TINY, "b" * 24)
    wait_for(lambda: training(before, first), 180, "the first batch")
    before.close()
    after = local(max_jobs=1, dispatch=False)  # a new server over the same folder
    assert [(s.id, s.state, s.position) for s in after.jobs()] == [(first, "running", None),
                                                                  (second, "queued", 1)]
    assert after.stop(first, owner="a" * 24)
    assert after.wait(second, 300).state == "finished"  # wait() dispatches, as the background thread does


@pytest.mark.trainer
def test_a_job_started_once_whatever_the_number_of_runners(local):
    runners = [local(max_jobs=1) for _ in range(3)]  # three servers' dispatchers over one folder
    job = runners[0].submit(TINY, "a" * 24)
    final = runners[1].wait(job, 300)
    assert final.state == "finished"
    started = [e for e in read_events(runners[0].runtime_dir / job / events.PROGRESS_FILE) if e["type"] == "started"]
    assert len(started) == 1


@pytest.mark.trainer
def test_a_stale_pid_in_run_json_is_not_taken_for_a_trainer(local):
    runner = local(max_jobs=1, dispatch=False)
    job = runner.submit(LONG, "a" * 24)
    run = json.loads((runner.runtime_dir / job / events.RUN_FILE).read_text())
    os.kill(run["pid"], signal.SIGKILL)
    processes.kill(run["pid"], run["pid_start"])  # reaped
    run["pid"] = os.getpid()  # a pid now used by another process (this one)
    write_json_atomic(runner.runtime_dir / job / events.RUN_FILE, run)
    s = runner.status(job)
    assert s.state == "failed" and "without reporting" in s.error
