"""Background training jobs: one trainer process per server, reporting through files.

Why a process: a Keras training thread inside the Streamlit server starves (Streamlit
runs a full gc.collect() after every script run), so training runs in a fresh child
interpreter, `python -m vae.trainer JOB_DIR` (vae/trainer.py). Why files: every browser session, and a page reload,
must see and re-attach to the running job, and files outlive the session that started it.
The files and the events in them are described in vae/jobfiles.py; spawning and liveness
live in vae/processes.py.

This module is the server's side: start, watch, stop. Nothing here imports TensorFlow.
"""
import contextlib
import dataclasses
import datetime as dt
import fcntl
import os
import re
import secrets
import shutil
import threading
import time
from pathlib import Path

import numpy as np

from vae.config import TrainConfig, run_name
from vae.datasets import get_dataset
from vae.jobfiles import (ARGS_FILE, CURRENT_FILE, EVAL_SECONDS, JOB_FILE, LOCK_FILE, PREVIEW_FILE,
                          PROGRESS_FILE, STOP_FILE, EventReader, JobInfo, JobStatus, summarize)
from vae.processes import creation_time, process_state, spawn_trainer
from vae import settings
from vae.store import SHIPPED_MODELS, NotWritableError, check_writable, read_json, write_json_atomic

__all__ = ["JobAlreadyRunning", "JobManager", "JobInfo", "JobStatus", "NotWritableError", "check_model_name",
           "estimate_seconds", "summarize", "EVAL_SECONDS", "STARTUP_SECONDS"]

STARTUP_SECONDS = 8.0  # spawn, import TensorFlow, load MNIST, build the model
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class JobAlreadyRunning(RuntimeError):
    pass


def _as_config(config):
    if isinstance(config, TrainConfig):
        return dataclasses.replace(config)
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(f"unknown training options: {', '.join(unknown)}")
    return TrainConfig(**config)


def check_model_name(name):
    if name in SHIPPED_MODELS:
        raise ValueError(f"{name!r} ships with VAE Explorer and cannot be replaced")
    if not NAME_PATTERN.fullmatch(name or ""):
        raise ValueError(f"model name {name!r}: use letters, digits, '.', '_' and '-', "
                         "starting with a letter or digit")


def estimate_seconds(config, samples_per_second):
    """Upper bound of a job's duration (early stopping may end it sooner)."""
    config = _as_config(config)
    spec = get_dataset(config.dataset)
    total = spec.n_train + spec.n_test if config.train_on == "all" else spec.n_train
    n = min(config.limit or total, total)
    n_train = n - max(1, int(round(n * config.val_fraction)))
    return n_train * config.epochs / samples_per_second + STARTUP_SECONDS + EVAL_SECONDS


class JobManager:
    """Starts the trainer and reads its files. Any number of instances, in any number of
    processes, agree on the one current job: all state lives in runtime_dir."""

    def __init__(self, runtime_dir=None, models_dir=None, threads=None):
        self.models_dir = Path(models_dir or settings.models_dir())
        self.runtime_dir = Path(runtime_dir or self.models_dir / ".jobs")
        self.threads = threads or os.cpu_count() or 1
        self._reader = None
        self._reader_lock = threading.Lock()  # one instance may serve many Streamlit sessions

    @contextlib.contextmanager
    def _lock(self):
        """Serialises start() and clear() across sessions and processes; released on close,
        so a crashed server cannot leave it held."""
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        with open(self.runtime_dir / LOCK_FILE, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            yield

    def start(self, config, name=None):
        config = _as_config(config)
        config.validate()  # refuse before spawning: a bad option must not cost a TF import
        name = name or run_name()
        check_model_name(name)
        target = self.models_dir / name
        # before spawning: a read-only models folder would only fail after minutes of training
        check_writable(self.models_dir)
        check_writable(self.runtime_dir, "the job folder")
        with self._lock():
            current = self.status()
            if current is not None and current.state == "running":
                raise JobAlreadyRunning(f"a model is already training ({current.name}); "
                                        "stop it or wait for it to finish")
            if target.exists():
                raise FileExistsError(f"{target} already exists; choose another name")
            if current is not None:  # the previous job is over: only one is remembered
                shutil.rmtree(self.runtime_dir / current.id, ignore_errors=True)
            job_id = dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
            job_dir = self.runtime_dir / job_id
            job_dir.mkdir()
            proc = None
            try:
                args = {"job_dir": str(job_dir), "config": dataclasses.asdict(config),
                        "out_dir": str(target), "threads": self.threads}
                write_json_atomic(job_dir / ARGS_FILE, args)
                proc = spawn_trainer(job_dir)
                info = JobInfo(id=job_id, name=name, model_dir=str(target),
                               config=dataclasses.asdict(config), job_dir=str(job_dir), pid=proc.pid,
                               pid_start=creation_time(proc.pid), started=time.time())
                write_json_atomic(job_dir / JOB_FILE, dataclasses.asdict(info))
                # other readers find the job only now, when job.json is complete
                write_json_atomic(self.runtime_dir / CURRENT_FILE, {"id": job_id})
            except BaseException:  # a full disk, say: no trainer nobody knows of, no stray files
                if proc is not None:
                    proc.kill()
                    proc.wait()
                shutil.rmtree(job_dir, ignore_errors=True)
                raise
        return info

    def job(self):
        """JobInfo of the current or last job, or None."""
        current = read_json(self.runtime_dir / CURRENT_FILE)
        info = current and read_json(self.runtime_dir / str(current.get("id")) / JOB_FILE)
        return JobInfo(**info) if info else None

    def status(self):
        """JobStatus of the current or last job, from its files; None when there is none."""
        info = self.job()
        if info is None:
            return None
        # liveness first, events second: a trainer that writes its last event and exits
        # between the two reads must not look like one that died without a word
        alive, exit_code = process_state(info.pid, info.pid_start)
        with self._reader_lock:
            if self._reader is None or self._reader.path.parent.name != info.id:
                self._reader = EventReader(Path(info.job_dir) / PROGRESS_FILE)
            status = summarize(info, self._reader.read())
        status.stop_requested = (Path(info.job_dir) / STOP_FILE).exists()
        if status.state == "running" and not alive:
            status.state, status.phase = "failed", "done"
            code = "unknown" if exit_code is None else exit_code
            status.error = f"trainer process exited unexpectedly (exit code {code})"
        if status.state == "running":
            status.elapsed = time.time() - info.started
        return status

    def stop(self, keep):
        """Ask the trainer to stop at its next batch; `keep` the partial model or discard it.
        Returns False when no job is running. Stopping has no effect once evaluation began."""
        status = self.status()
        if status is None or status.state != "running":
            return False
        write_json_atomic(Path(self.job().job_dir) / STOP_FILE, {"keep": bool(keep)})
        return True

    def wait(self, timeout, poll=0.1):
        """Wait until the trainer process has exited; its final JobStatus. For tests and CLIs."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.job()
            if info is None or not process_state(info.pid, info.pid_start)[0]:
                return self.status()
            if time.monotonic() > deadline:
                raise TimeoutError(f"trainer {info.pid} still running after {timeout} s")
            time.sleep(poll)

    def preview(self):
        """The latest preview: z (2000, 2) float32, labels uint8, manifold (336, 336) uint8,
        epoch int, extent float; or None before the first epoch ends."""
        info = self.job()
        path = info and Path(info.job_dir) / PREVIEW_FILE
        if path is None or not path.exists():
            return None
        with np.load(path) as npz:
            out = {k: npz[k] for k in npz.files}
        out["epoch"], out["extent"] = int(out["epoch"]), float(out["extent"])
        return out

    def clear(self):
        """Forget the last job (its files; never its model). Refused while it runs."""
        with self._lock():
            status = self.status()
            if status is None:
                return
            if status.state == "running":
                raise JobAlreadyRunning("the job is still running; stop it first")
            (self.runtime_dir / CURRENT_FILE).unlink(missing_ok=True)
            shutil.rmtree(self.runtime_dir / status.id, ignore_errors=True)
            self._reader = None

