"""Background training jobs: one trainer process per server, reporting through files.

Why a process: a Keras training thread inside the Streamlit server starves (Streamlit
runs a full gc.collect() after every script run), so training runs in a fresh child
interpreter, `python -m vae.trainer JOB_DIR` (vae/trainer.py). Why files: every browser session, and a page reload,
must see and re-attach to the running job, and files outlive the session that started it.

A job directory, <runtime_dir>/<job id>/, holds:
  job.json        id, name, config, target model dir, pid, start time (written by the parent)
  args.json       the trainer's arguments
  progress.jsonl  append-only events from the trainer, one JSON object a line
  preview.npz     latent codes of 2,000 test digits and a decoded 12x12 manifold, per epoch
  stop.json       {"keep": bool}: the parent asks the trainer to stop
  trainer.log     the trainer's stdout and stderr
<runtime_dir>/current.json names the current job; <runtime_dir>/.lock serialises start().

Events all carry `seq` (1, 2, 3, ...) and `time` (Unix seconds). In order:
  started · epoch_begin · batch (at most ~4 a second) · epoch_end · preview · early_stopping
  · evaluating · then exactly one of finished / discarded / failed.
A trainer that dies without a terminal event (SIGKILL, out of memory) is reported as
failed by the reader, which checks the recorded pid.

This module is the server's side: start, watch, stop. Nothing here imports TensorFlow.
"""
import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from vae.config import STOP_USER, TrainConfig, run_name
from vae.store import MODELS_DIR, SHIPPED_MODELS, read_json, write_json_atomic
from vae.trainer import ARGS_FILE, JOB_FILE, PREVIEW_FILE, PROGRESS_FILE, STOP_FILE

CURRENT_FILE, LOCK_FILE = "current.json", ".lock"
STARTUP_SECONDS = 8.0  # spawn, import TensorFlow, load MNIST, build the model
EVAL_SECONDS = 10.0  # encode 70k digits, decode 10k, 5-NN, save
RECENT_BATCHES = 300  # batch events kept in JobStatus.recent
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class JobAlreadyRunning(RuntimeError):
    pass


@dataclasses.dataclass
class JobInfo:
    id: str
    name: str
    model_dir: str  # the target: models_dir/name, created only when the job succeeds
    config: dict
    job_dir: str
    pid: int
    pid_start: str | None  # kernel start time of pid: tells our trainer from a reused pid
    started: float


@dataclasses.dataclass
class JobStatus:
    id: str
    name: str
    model_dir: str
    config: dict
    state: str = "running"  # running | finished | stopped | discarded | failed
    phase: str = "starting"  # starting | training | evaluating | done
    stop_requested: bool = False
    epoch: int = 0  # 1-based, the current or last epoch
    epochs: int = 0
    batch: int = 0  # batches done in this epoch
    batches: int = 0  # batches per epoch
    fraction: float = 0.0  # of the training batches, all epochs
    elapsed: float = 0.0  # seconds since start
    eta: float | None = None  # seconds left, from measured throughput; None before it is known
    samples_per_second: float | None = None  # training throughput, validation included
    history: list = dataclasses.field(default_factory=list)  # epoch_end logs, with "epoch"
    recent: list = dataclasses.field(default_factory=list)  # recent batch events, with "step"
    early_stopping: dict | None = None
    preview_epoch: int | None = None
    stop_reason: str | None = None
    metrics: dict | None = None
    error: str | None = None


def _proc_stat(pid):
    """Fields of /proc/<pid>/stat after the command name: [0] state, [19] start time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()


def _pid_alive(pid, pid_start):
    """Is our trainer (not a zombie, not a later process with the same pid) still running?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    fields = _proc_stat(pid)
    if fields is None:
        return not Path("/proc/self").exists()  # no /proc: trust kill(0); else it just exited
    return fields[0] != "Z" and (pid_start is None or fields[19] == pid_start)


_CHILDREN = {}  # pid -> Popen this process started: exit codes, and reaping the zombie


def _spawn_trainer(job_dir):
    """A fresh interpreter running `python -m vae.trainer JOB_DIR`.

    Not multiprocessing's "spawn": it re-runs the parent's __main__ in the child, and
    inside Streamlit that is app.py, which cannot run outside a Streamlit server.
    """
    from vae.data import REPO_ROOT
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)}
    return subprocess.Popen([sys.executable, "-m", "vae.trainer", str(job_dir)], cwd=REPO_ROOT, env=env,
                            stdin=subprocess.DEVNULL, close_fds=True)


def _process_state(info):
    """(alive, exit code or None)."""
    proc = _CHILDREN.get(info.pid)
    if proc is not None:
        code = proc.poll()  # waitpid: the finished child does not linger as a zombie
        return code is None, code
    return _pid_alive(info.pid, info.pid_start), None


class _EventReader:
    """progress.jsonl, read incrementally: the file only grows."""

    def __init__(self, path):
        self.path, self.offset, self.events = Path(path), 0, []

    def read(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return self.events
        end = chunk.rfind(b"\n") + 1  # a line still being written waits for the next read
        self.events += [json.loads(line) for line in chunk[:end].splitlines() if line.strip()]
        self.offset += end
        return self.events


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
    total = 70000 if config.train_on == "all" else 60000
    n = min(config.limit or total, total)
    n_train = n - max(1, int(round(n * config.val_fraction)))
    return n_train * config.epochs / samples_per_second + STARTUP_SECONDS + EVAL_SECONDS


class JobManager:
    """Starts the trainer and reads its files. Any number of instances, in any number of
    processes, agree on the one current job: all state lives in runtime_dir."""

    def __init__(self, runtime_dir=None, models_dir=None, threads=None):
        self.models_dir = Path(models_dir or MODELS_DIR)
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
            args = {"job_dir": str(job_dir), "config": dataclasses.asdict(config),
                    "out_dir": str(target), "threads": self.threads}
            write_json_atomic(job_dir / ARGS_FILE, args)
            try:
                proc = _spawn_trainer(job_dir)
            except BaseException:
                shutil.rmtree(job_dir, ignore_errors=True)
                raise
            _CHILDREN[proc.pid] = proc
            stat = _proc_stat(proc.pid)
            info = JobInfo(id=job_id, name=name, model_dir=str(target),
                           config=dataclasses.asdict(config), job_dir=str(job_dir), pid=proc.pid,
                           pid_start=stat[19] if stat else None, started=time.time())
            write_json_atomic(job_dir / JOB_FILE, dataclasses.asdict(info))
            # other readers find the job only now, when job.json is complete
            write_json_atomic(self.runtime_dir / CURRENT_FILE, {"id": job_id})
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
        alive, exit_code = _process_state(info)
        with self._reader_lock:
            if self._reader is None or self._reader.path.parent.name != info.id:
                self._reader = _EventReader(Path(info.job_dir) / PROGRESS_FILE)
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
            if info is None or not _process_state(info)[0]:
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


def summarize(info, events):
    """A JobStatus from job.json and the events so far (liveness is the caller's business)."""
    s = JobStatus(id=info.id, name=info.name, model_dir=info.model_dir, config=info.config,
                  epochs=info.config["epochs"])
    train_start = last_progress = eval_start = None
    last_time = info.started
    for e in events:
        kind, last_time = e["type"], e["time"]
        if kind == "epoch_begin":
            s.phase, s.epoch, s.batch, s.batches = "training", e["epoch"], 0, e["batches"]
            s.epochs = e["epochs"]
            train_start = train_start or e["time"]
        elif kind == "batch":
            s.batch, last_progress = e["batch"], e["time"]
            step = (e["epoch"] - 1) * e["batches"] + e["batch"]
            s.recent.append({"step": step, **{k: v for k, v in e.items() if k not in ("seq", "type")}})
        elif kind == "epoch_end":
            s.batch, last_progress = s.batches, e["time"]
            s.history.append({"epoch": e["epoch"], **e["logs"]})
        elif kind == "preview":
            s.preview_epoch = e["epoch"]
        elif kind == "early_stopping":
            s.early_stopping = {k: v for k, v in e.items() if k not in ("seq", "time", "type")}
        elif kind == "evaluating":
            s.phase, eval_start = "evaluating", e["time"]
        elif kind == "finished":
            s.state = "stopped" if e["stop_reason"] == STOP_USER else "finished"
            s.model_dir, s.stop_reason, s.metrics = e["model_dir"], e["stop_reason"], e["metrics"]
        elif kind == "discarded":
            s.state, s.stop_reason = "discarded", STOP_USER
        elif kind == "failed":
            s.state, s.error = "failed", e["error"]
    s.recent = s.recent[-RECENT_BATCHES:]
    s.elapsed = last_time - info.started
    total = s.epochs * s.batches
    done = (s.epoch - 1) * s.batches + s.batch if s.epoch else 0
    s.fraction = done / total if total else 0.0
    if train_start is not None and last_progress is not None and done:
        # measured from the first epoch's start, so validation and previews are included
        rate = done / max(last_progress - train_start, 1e-6)  # batches a second
        s.samples_per_second = rate * info.config["batch_size"]
        s.eta = (total - done) / rate + EVAL_SECONDS  # an upper bound: early stopping may cut it
    if s.phase == "evaluating":
        s.fraction, s.eta = 1.0, max(0.0, EVAL_SECONDS - (time.time() - eval_start))
    if s.state != "running":
        s.phase, s.eta = "done", 0.0
        s.fraction = 1.0 if s.state == "finished" else s.fraction
    return s


