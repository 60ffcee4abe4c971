"""The job directory protocol: how the server (vae.jobs) and the trainer process
(vae.trainer) talk through files, and how a job's status is folded from them.

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
failed by the server, which checks the recorded pid (vae.processes).

Plain Python: nothing here imports TensorFlow, NumPy or Streamlit.
"""
import dataclasses
import json
import time
from pathlib import Path

from vae.config import STOP_USER

JOB_FILE, ARGS_FILE, PROGRESS_FILE = "job.json", "args.json", "progress.jsonl"
PREVIEW_FILE, STOP_FILE, LOG_FILE = "preview.npz", "stop.json", "trainer.log"
CURRENT_FILE, LOCK_FILE = "current.json", ".lock"
EVAL_SECONDS = 10.0  # encode 70k digits, decode 10k, 5-NN, save
RECENT_BATCHES = 300  # batch events kept in JobStatus.recent


@dataclasses.dataclass
class JobInfo:
    id: str
    name: str
    model_dir: str  # the target: models_dir/name, created only when the job succeeds
    config: dict
    job_dir: str
    pid: int
    pid_start: float | None  # the process' creation time: tells our trainer from a reused pid
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


class EventReader:
    """progress.jsonl as the server reads it, incrementally: the file only grows."""

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
        for line in chunk[:end].splitlines():
            try:
                event = json.loads(line)
            except ValueError:  # a damaged line (disk trouble) must not take the page down
                continue
            if isinstance(event, dict) and "type" in event and "time" in event:
                self.events.append(event)
        self.offset += end
        return self.events


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
