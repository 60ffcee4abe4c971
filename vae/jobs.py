"""Background training jobs: one trainer process per server, reporting through files.

Why a process: a Keras training thread inside the Streamlit server starves (Streamlit
runs a full gc.collect() after every script run), so training runs in a fresh child
interpreter, `python -m vae.jobs JOB_DIR`. Why files: every browser session, and a page reload,
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

Nothing here imports TensorFlow at module level: the trainer must set its thread budget
before TensorFlow starts, and the trainer imports this module first (it holds run_job).
"""
import contextlib
import dataclasses
import datetime as dt
import fcntl
import functools
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import numpy as np

from vae.store import DEFAULT_MODEL, MODELS_DIR, TMP_PREFIX, write_json_atomic

JOB_FILE, PROGRESS_FILE, PREVIEW_FILE = "job.json", "progress.jsonl", "preview.npz"
STOP_FILE, LOG_FILE, ARGS_FILE = "stop.json", "trainer.log", "args.json"
CURRENT_FILE, LOCK_FILE = "current.json", ".lock"
TERMINAL_EVENTS = ("finished", "discarded", "failed")

BATCH_EVENT_INTERVAL = 0.25  # seconds: at most ~4 batch events a second
PREVIEW_DIGITS = 2000  # the first 2,000 test digits, the same every epoch
PREVIEW_GRID, PREVIEW_EXTENT = 12, 3.0  # a 12x12 manifold over [-3, 3]^2
STARTUP_SECONDS = 8.0  # spawn, import TensorFlow, load MNIST, build the model
EVAL_SECONDS = 10.0  # encode 70k digits, decode 10k, 5-NN, save
RECENT_BATCHES = 300  # batch events kept in JobStatus.recent

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class JobAlreadyRunning(RuntimeError):
    pass


# -- the trainer's side: events, stop requests, previews, and the process target

class EventLog:
    """progress.jsonl as the trainer writes it: numbered, timestamped, flushed lines."""

    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8")
        self.seq = 0

    def emit(self, type, **fields):
        self.seq += 1
        event = {"seq": self.seq, "time": time.time(), "type": type, **fields}
        self.file.write(json.dumps(event) + "\n")  # one write per line: readers never mix two
        self.file.flush()


def _floats(logs):
    return {k: float(v) for k, v in (logs or {}).items()}


def _define_callbacks():
    """The two Keras callbacks. Built on first use because they subclass a Keras class,
    and importing Keras at module level would start TensorFlow in the trainer too early."""
    import keras

    class StopRequest(keras.callbacks.Callback):
        """vae.train's `user_stop`: stops fit() at the next batch end once stop.json exists."""

        def __init__(self, job_dir):
            super().__init__()
            self.path = Path(job_dir) / STOP_FILE
            self.requested = False

        def on_train_batch_end(self, batch, logs=None):
            if not self.requested and self.path.exists():  # a stat per batch costs microseconds
                self.requested = True
                self.model.stop_training = True

        def keep(self):
            """The user's latest choice, read when training ends (train_and_save's keep_partial)."""
            return bool(_read_json(self.path, {}).get("keep", True))

    class ProgressCallback(keras.callbacks.Callback):
        """Reports fit() as events, and writes a preview after each full epoch."""

        def __init__(self, events, stop, preview=None, patience=None):
            super().__init__()
            self.events, self.stop, self.preview, self.patience = events, stop, preview, patience
            self.epoch, self.last_batch_event, self.val_losses = 0, 0.0, []

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch + 1  # events count epochs from 1, as people do
            self.events.emit("epoch_begin", epoch=self.epoch, epochs=self.params["epochs"],
                             batches=self.params["steps"])

        def on_train_batch_end(self, batch, logs=None):
            now = time.monotonic()
            if now - self.last_batch_event < BATCH_EVENT_INTERVAL:
                return  # float(logs) waits for the step to finish: only do it when we report
            self.last_batch_event = now
            # Keras' batch logs are running means over the epoch so far
            self.events.emit("batch", epoch=self.epoch, batch=batch + 1,
                             batches=self.params["steps"], **_floats(logs))

        def on_epoch_end(self, epoch, logs=None):
            logs = _floats(logs)
            self.val_losses.append(logs.get("val_loss", float("inf")))
            self.events.emit("epoch_end", epoch=self.epoch, logs=logs, partial=self.stop.requested)
            if self.stop.requested:
                return  # the user is waiting for the stop: skip the preview
            if self.preview is not None:
                try:
                    self.preview(self.model, self.epoch)
                    self.events.emit("preview", epoch=self.epoch)
                except Exception:  # a preview is cosmetic: never lose the training to it
                    traceback.print_exc()
            if self.model.stop_training:  # EarlyStopping runs before us and has just fired
                best = int(np.argmin(self.val_losses))
                self.events.emit("early_stopping", epoch=self.epoch, best_epoch=best + 1,
                                 best_val_loss=self.val_losses[best], patience=self.patience)

        def on_train_end(self, logs=None):
            if not (self.stop.requested and not self.stop.keep()):
                self.events.emit("evaluating")

    return {"StopRequest": StopRequest, "ProgressCallback": ProgressCallback}


def __getattr__(name):  # `vae.jobs.StopRequest` and `vae.jobs.ProgressCallback`, built lazily
    if name in ("StopRequest", "ProgressCallback"):
        globals().update(_define_callbacks())
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def write_preview(model, epoch, images, labels, path):
    """Encode `images`, decode the manifold grid in one batch, write `path` atomically."""
    from vae.evaluate import encode_all
    z, _ = encode_all(model, images)
    axis = np.linspace(-PREVIEW_EXTENT, PREVIEW_EXTENT, PREVIEW_GRID, dtype="float32")
    zx, zy = np.meshgrid(axis, axis[::-1])  # top row is the highest z[1], as in a plot
    points = np.zeros((PREVIEW_GRID ** 2, model.latent_dim), "float32")  # other dims at 0
    points[:, 0] = zx.ravel()
    if model.latent_dim > 1:
        points[:, 1] = zy.ravel()
    digits = np.clip(model.decode(points), 0, 1)  # (144, 28, 28)
    side = PREVIEW_GRID * 28
    manifold = digits.reshape(PREVIEW_GRID, PREVIEW_GRID, 28, 28).transpose(0, 2, 1, 3)
    manifold = np.round(manifold.reshape(side, side) * 255).astype(np.uint8)
    z2 = np.zeros((len(z), 2), "float32")
    z2[:, :min(2, z.shape[1])] = z[:, :2]
    path = Path(path)
    tmp = path.with_name(TMP_PREFIX + path.name)
    with open(tmp, "wb") as f:  # a file object: np.savez would append ".npz" to a name
        np.savez(f, z=z2, labels=np.asarray(labels, np.uint8), manifold=manifold,
                 epoch=np.int32(epoch), extent=np.float32(PREVIEW_EXTENT))
    os.replace(tmp, path)  # readers see the old preview or the new one, never half of one


def _redirect_output(path):
    """The trainer's stdout and stderr (TensorFlow's C++ logs too) go to trainer.log."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def run_job(job_dir: str, config: dict, out_dir: str, threads: int):
    """The trainer process: train, evaluate and save `out_dir`, reporting into `job_dir`."""
    job_dir = Path(job_dir)
    _redirect_output(job_dir / LOG_FILE)
    events = EventLog(job_dir / PROGRESS_FILE)
    events.emit("started", pid=os.getpid())
    os.nice(10)  # the Streamlit server shares the cores and must stay responsive
    # thread budgets must be set before TensorFlow starts its thread pools
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["TF_NUM_INTRAOP_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(min(threads, 2))
    try:
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
        from vae.data import load_arrays
        from vae.store import read_metadata
        from vae.train import TrainConfig, train_and_save

        config = TrainConfig(**config)
        arrays = load_arrays()
        callbacks = _define_callbacks()
        stop = callbacks["StopRequest"](job_dir)
        preview = functools.partial(write_preview, images=arrays["x_test"][:PREVIEW_DIGITS],
                                    labels=arrays["y_test"][:PREVIEW_DIGITS],
                                    path=job_dir / PREVIEW_FILE)
        progress = callbacks["ProgressCallback"](events, stop, preview, config.patience)
        model_dir = train_and_save(config, out_dir, callbacks=[progress], user_stop=stop,
                                   verbose=0, arrays=arrays, keep_partial=stop.keep)
        if model_dir is None:
            events.emit("discarded")
        else:
            meta = read_metadata(model_dir)
            events.emit("finished", model_dir=str(model_dir), stop_reason=meta["stop_reason"],
                        metrics=meta["metrics"], epochs_run=meta["epochs_run"],
                        best_epoch=meta["best_epoch"])
        code = 0
    except Exception as err:  # write_model_dir is atomic: a failure leaves no model behind
        traceback.print_exc()
        events.emit("failed", error=f"{type(err).__name__}: {err}")
        code = 1
    # Everything is on disk. Skip the interpreter's teardown of TensorFlow, which takes
    # seconds on a busy machine at nice 10, so the slot frees as soon as the job is over.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


# -- the server's side: start, watch, stop

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


def _read_json(path, default=None):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return default


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
    """A fresh interpreter running `python -m vae.jobs JOB_DIR`.

    Not multiprocessing's "spawn": it re-runs the parent's __main__ in the child, and
    inside Streamlit that is app.py, which cannot run outside a Streamlit server.
    """
    from vae.data import REPO_ROOT
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)}
    return subprocess.Popen([sys.executable, "-m", "vae.jobs", str(job_dir)], cwd=REPO_ROOT, env=env,
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
    from vae.train import TrainConfig
    if isinstance(config, TrainConfig):
        return dataclasses.replace(config)
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(f"unknown training options: {', '.join(unknown)}")
    return TrainConfig(**config)


def check_model_name(name):
    if name == DEFAULT_MODEL:
        raise ValueError(f"{DEFAULT_MODEL!r} is the shipped model and cannot be replaced")
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
        name = name or dt.datetime.now().strftime("vae-%Y%m%d-%H%M%S")
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
        current = _read_json(self.runtime_dir / CURRENT_FILE)
        info = current and _read_json(self.runtime_dir / str(current.get("id")) / JOB_FILE)
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
    from vae.train import STOP_USER
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


if __name__ == "__main__":  # the trainer process: python -m vae.jobs JOB_DIR
    run_job(**json.loads((Path(sys.argv[1]) / ARGS_FILE).read_text()))
