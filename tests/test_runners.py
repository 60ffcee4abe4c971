"""The job runners' contract, held on both: the built-in local runner and a real Ray cluster.

Every test here runs once per runner, against real trainer processes (each imports
TensorFlow, ~5 s) and, for Ray, a real head started by the `ray_cluster` fixture. Both are
set up with one slot: one job trains at a time, so a second one waits.
"""
import os
import signal
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from vae.jobs import OwnerBusy, RunnerUnavailable

from helpers import LONG, TINY, ended, leftovers, trainer_events, trainer_pid, training, wait_for

ALICE, BOB = "alice0000000000000000000", "bob00000000000000000000"


@pytest.fixture(params=[pytest.param("local", marks=pytest.mark.trainer),
                        pytest.param("ray", marks=[pytest.mark.ray, pytest.mark.trainer])])
def runner(request, tmp_path):
    models = tmp_path / "models"
    if request.param == "local":
        from vae.jobs.local import LocalRunner
        made = LocalRunner(models_dir=models, max_jobs=1, cpus=1)
    else:
        from vae.jobs.ray_runner import RayRunner
        address = request.getfixturevalue("ray_cluster").address
        made = RayRunner(address=address, models_dir=models, cpus=2)  # 2 of the cluster's 2 CPUs: one at a time
    yield made
    for s in made.jobs():  # never leave a trainer behind, whatever the test did
        if s.active:
            made.stop(s.id, operator=True)
    for s in made.jobs():
        pid = trainer_pid(made, s.id)
        if pid is not None and psutil.pid_exists(pid):
            os.kill(pid, signal.SIGKILL)
    made.close()


def test_a_job_reports_progress_and_makes_a_loadable_version(runner):
    job_id = runner.submit(TINY, ALICE)
    seen = set()
    final = wait_for(lambda: ended(runner, job_id, seen), 300, "the job to end")
    assert final.state == "finished", final.error
    assert "running" in seen
    assert final.owner == ALICE and final.runner == runner.name
    assert [h["epoch"] for h in final.history] == [1, 2] and final.fraction == 1.0
    assert {"neg_elbo", "knn5_accuracy"} <= set(final.metrics)
    kinds = [e["type"] for e in trainer_events(runner, job_id)]
    assert kinds[0] == "started" and kinds[-2:] == ["evaluating", "finished"]
    assert "batch" in kinds and kinds.count("preview") == 2
    preview = runner.preview(job_id)
    assert preview["epoch"] == 2 and preview["z"].shape[1] == 2

    from vae.ml.model import load_vae
    model = load_vae(Path(final.model_dir) / "model.keras")  # safe_mode
    assert model.decode(np.zeros((1, 2), "float32")).shape == (1, 28, 28)
    assert Path(final.model_dir).name == final.name
    assert leftovers(runner.models_dir) == []


def test_a_stop_in_the_first_epoch_ends_the_job_within_5_s_and_keeps_nothing(runner):
    job_id = runner.submit(LONG, ALICE)
    wait_for(lambda: training(runner, job_id), 180, "the first batch")
    pid = trainer_pid(runner, job_id)
    asked = time.monotonic()
    assert runner.stop(job_id, keep=False, owner=ALICE)
    wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, 30,
             "the trainer process to end")
    gone = time.monotonic() - asked
    print(f"\n{runner.name}: stop → trainer gone in {gone:.2f} s")
    assert gone <= 5.0
    final = runner.wait(job_id, 60)
    assert final.state == "discarded", (final.state, final.error)
    assert not Path(final.model_dir).exists() and leftovers(runner.models_dir) == []


def test_a_second_job_waits_and_starts_when_the_first_ends(runner):
    first = runner.submit(LONG, ALICE)
    second = runner.submit(TINY, BOB)
    wait_for(lambda: training(runner, first), 180, "the first job to train")
    waiting = runner.status(second)
    assert (waiting.state, waiting.position) == ("queued", 1)
    assert waiting.start_eta is not None and waiting.start_eta > 0
    assert [s.id for s in runner.jobs() if s.active] == [first, second]  # running first, then the queue
    runner.stop(first, keep=False, owner=ALICE)
    ended = runner.wait(first, 60)
    done = runner.wait(second, 300)
    assert done.state == "finished", done.error
    assert done.started >= ended.ended - 0.5  # clocks of one machine; Ray stamps in ms
    assert Path(done.model_dir).exists() and not Path(ended.model_dir).exists()


def test_a_trainer_killed_on_its_node_fails_the_job_and_keeps_no_version(runner):
    job_id = runner.submit(LONG, ALICE)
    wait_for(lambda: training(runner, job_id), 180, "the first batch")
    os.kill(trainer_pid(runner, job_id), signal.SIGKILL)
    final = wait_for(lambda: ended(runner, job_id), 60, "the job to end")
    assert final.state == "failed"
    assert "9" in final.error and ("killed" in final.error or "exit code" in final.error), final.error
    assert not Path(final.model_dir).exists() and leftovers(runner.models_dir) == []


def test_one_job_at_a_time_per_person_but_any_number_for_the_operator(runner):
    first = runner.submit(LONG, ALICE)
    with pytest.raises(OwnerBusy):
        runner.submit(TINY, ALICE)  # while the first is queued
    wait_for(lambda: runner.status(first).state == "running", 120, "the first job to start")
    with pytest.raises(OwnerBusy):
        runner.submit(TINY, ALICE)  # or running
    extra = [runner.submit(TINY, ALICE, operator=True) for _ in range(2)]
    assert [s.position for s in runner.jobs() if s.id in extra] == [1, 2]
    with pytest.raises(PermissionError):
        runner.stop(first, owner=BOB)  # somebody else's
    assert runner.stop(extra[1], owner=BOB, operator=True)  # the operator may
    cancelled = runner.status(extra[1])
    assert cancelled.state == "cancelled" and runner.status(extra[0]).position == 1
    assert not runner.stop(extra[1], owner=ALICE)  # already over


def test_bad_requests_are_refused_before_anything_runs(runner):
    with pytest.raises(ValueError, match="epochs"):
        runner.submit({"epochs": 0}, ALICE)
    with pytest.raises(ValueError, match="unknown"):
        runner.submit({"epochz": 3}, ALICE)
    for name in ("reference", "../escape", ".hidden", "a/b"):
        with pytest.raises(ValueError):
            runner.submit(TINY, ALICE, name=name)
    assert runner.jobs() == []


def test_an_unreachable_runner_is_a_clear_error(runner, tmp_path):
    if runner.name == "ray":
        from harness.ray_cluster import free_port
        from vae.jobs.ray_runner import RayRunner
        dead = RayRunner(address=f"http://127.0.0.1:{free_port()}", models_dir=tmp_path / "elsewhere")
        asked = time.monotonic()
        with pytest.raises(RunnerUnavailable, match="ray start") as err:
            dead.jobs()
        assert time.monotonic() - asked < 30  # the page is never held for long
        assert "127.0.0.1" in str(err.value)
        with pytest.raises(RunnerUnavailable):
            dead.submit(TINY, ALICE)
        assert not (tmp_path / "elsewhere" / ".jobs").exists() or not any((tmp_path / "elsewhere" / ".jobs").iterdir())
    else:
        from vae.jobs.local import LocalRunner
        (tmp_path / "broken").mkdir()
        (tmp_path / "broken" / ".jobs").write_text("a file where the job folder should be")
        broken = LocalRunner(models_dir=tmp_path / "broken", dispatch=False)
        with pytest.raises(OSError, match="job folder") as err:
            broken.submit(TINY, ALICE)
        assert str(tmp_path / "broken" / ".jobs") in str(err.value)


# -- Ray only ------------------------------------------------------------------------------

@pytest.fixture
def ray_runner(ray_cluster, tmp_path):
    from vae.jobs.ray_runner import RayRunner
    made = RayRunner(address=ray_cluster.address, models_dir=tmp_path / "models", cpus=1)
    yield made
    made.close()


def test_foreign_and_malformed_ray_jobs_are_never_shown_as_ours(ray_cluster, ray_runner):
    from ray.job_submission import JobSubmissionClient

    from vae.jobs.ray_runner import APP
    client = JobSubmissionClient(ray_cluster.address)
    ours = ray_runner.submit(LONG, ALICE)
    models = str(ray_runner.models_dir)
    for metadata in ({}, {"vae_app": APP}, {"vae_app": "another", "vae_owner": BOB, "vae_models_dir": models},
                     {"vae_app": APP, "vae_owner": BOB, "vae_models_dir": "/another/models"}):
        client.submit_job(entrypoint="true", metadata=metadata)
    (ray_runner.runtime_dir / "vae-junk").mkdir()
    (ray_runner.runtime_dir / "vae-junk" / "job.json").write_text("{not json")
    assert [s.id for s in ray_runner.jobs()] == [ours]
    assert ray_runner.stop(ours, owner=ALICE)


def test_a_job_the_restarted_cluster_no_longer_knows_is_failed_saying_so(ray_cluster, ray_runner, monkeypatch):
    from vae.jobs import ray_runner as module
    job_id = ray_runner.submit(LONG, ALICE)
    wait_for(lambda: training(ray_runner, job_id), 180, "the first batch")
    ray_cluster.restart()  # the head and its job table are gone; so is the trainer
    monkeypatch.setattr(module, "SUBMIT_SECONDS", 0)  # long past its submission
    final = ray_runner.status(job_id)
    assert final.state == "failed" and "no longer knows this job" in final.error, final.error
    assert not Path(final.model_dir).exists()


def test_jobs_spread_over_a_worker_node_that_joined_the_cluster(ray_cluster, ray_runner):
    from ray.job_submission import JobSubmissionClient
    ray_cluster.add_worker(num_cpus=1)  # the head has 2 CPUs, the worker 1: three 1-CPU jobs fill both
    client = JobSubmissionClient(ray_cluster.address)
    ids = [ray_runner.submit(LONG, owner) for owner in (ALICE, BOB, "carol000000000000000000")]
    try:
        wait_for(lambda: all(training(ray_runner, i) for i in ids), 300, "three jobs training at once")
        nodes = {client.get_job_info(i).driver_node_id for i in ids}
        assert len(nodes) == 2, nodes
    finally:
        for i in ids:
            ray_runner.stop(i, operator=True)


@pytest.mark.ray
def test_a_cluster_whose_python_lacks_the_requirements_is_refused_saying_what_to_do(tmp_path):
    """A head started as `.venv/bin/ray start --head` without the venv on PATH runs jobs with
    whatever `python` PATH finds: the first submit asks that Python, and refuses with what to do
    instead of queueing a job that fails at once."""
    import subprocess

    from harness.ray_cluster import RayCluster
    from vae.jobs import ray_python
    from vae.jobs.ray_runner import RayRunner

    cluster = RayCluster(venv_on_path=False)
    # What the cluster's `python` lacks, asked the same way outside Ray: the expectation
    answer = subprocess.run(ray_python.probe_entrypoint(), shell=True, env=cluster.env,
                            capture_output=True, text=True).stdout
    python, missing = ray_python.read_probe(answer)
    assert python and isinstance(missing, list)
    try:
        cluster.start()
        runner = RayRunner(address=cluster.address, models_dir=tmp_path / "models", cpus=1)
        if not missing:  # this machine's PATH Python has TensorFlow: the check lets jobs through
            runner.submit(TINY, ALICE)
            assert len(runner.jobs()) == 1
            return
        with pytest.raises(RunnerUnavailable) as refused:
            runner.submit(TINY, ALICE)
        text = str(refused.value)
        assert python in text and "lacks the project's requirements" in text and missing[0] in text
        assert "PATH=$PWD/.venv/bin:$PATH ray start" in text and "Running a cluster" in text
        assert runner.jobs() == []  # nothing was queued
        runner.close()
    finally:
        cluster.stop()


def test_a_trainer_without_tensorflow_says_what_to_do():
    from vae.jobs.trainer import describe_failure
    try:
        import vae_no_such_module  # noqa: F401
    except ModuleNotFoundError as err:
        text = describe_failure(err, "/tmp/out")
    assert "No module named 'vae_no_such_module'" in text and "lacks the project's requirements" in text
    assert "Running a cluster" in text
