"""Helpers shared by several test files (fixtures live in conftest.py)."""
import dataclasses
import json
import time

import numpy as np
import pytest

from vae.jobs.events import PROGRESS_FILE
from vae.store.disk import TMP_PREFIX

TINY = {"epochs": 2, "limit": 300}  # a job of seconds
LONG = {"epochs": 500, "limit": 300, "patience": 500}  # minutes of training unless stopped


def wait_for(condition, timeout, what):
    """Poll `condition` until it returns something truthy, and return that; fail after `timeout`
    seconds. A deadline for a condition, never a fixed wait."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def trainer_events(runner, job_id):
    path = runner.runtime_dir / job_id / PROGRESS_FILE
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def trainer_pid(runner, job_id):
    started = [e for e in trainer_events(runner, job_id) if e["type"] == "started"]
    return started[0]["pid"] if started else None


def ended(runner, job_id, seen=None):
    """The job's final status once it has ended, else None (recording the states passed through)."""
    s = runner.status(job_id)
    if seen is not None:
        seen.add(s.state)
    return None if s.active else s


def training(runner, job_id):
    """Has the job trained its first batch? Fails at once if it ended instead."""
    s = runner.status(job_id)
    assert s.state in ("queued", "running"), (s.state, s.error)
    return s.phase == "training" and s.batch > 0


def leftovers(models_dir):
    """Temporary directories left in a models folder: a write that was not cleaned up."""
    return sorted(p.name for p in models_dir.glob(TMP_PREFIX + "*")) if models_dir.exists() else []


@dataclasses.dataclass
class LooksLike:
    label: int  # majority label among the nearest test images
    share: float  # fraction of neighbours that carry it
    neighbours: np.ndarray  # test-set indices, nearest first


def looks_like(explorer, z, k=None):
    """The page's "looks like" (runtime.js looksLike) in Python, from vae.ml.knn: the oracle the
    browser's labels are checked against. k: the explorer's LOOKS_LIKE_K by default."""
    from vae.explorer import LOOKS_LIKE_K
    from vae.ml import knn
    idx = knn.nearest(explorer.z_test, np.asarray(z, dtype="float32")[None], k or LOOKS_LIKE_K)[0]
    labels = explorer.y_test[idx]
    label = int(knn.vote(labels[None], len(explorer.class_names))[0])
    return LooksLike(label, float(np.mean(labels == label)), idx)
