"""The job directory: how a runner and the trainer process (vae.jobs.trainer) talk through
files, and how a job's status is folded from them. Both runners use it, so progress looks
the same whether the trainer runs on this machine or on a Ray node: one event format.

A job directory, <models>/.jobs/<job id>/, holds:
  job.json        what was asked: id, name, owner, config, target model dir (the submitter
                  writes it; vae/jobs/record.py reads and writes it and args.json)
  args.json       the trainer's arguments
  run.json        the trainer's pid and creation time (local runner, when it starts the job)
  progress.jsonl  append-only events from the trainer, one JSON object a line
  preview.npz     latent codes of 2,000 test images and a decoded 12x12 manifold, per epoch
  stop.json       {"keep": bool}: stop at the next batch, keeping the model or not
  end.json        the runner's verdict when the trainer could not give one (cancelled while
                  queued, discarded by a kill, its process gone without a word)
  trainer.log     the trainer's stdout and stderr (local runner; Ray keeps its own logs)

Events all carry `seq` (1, 2, 3, ...) and `time` (Unix seconds). In order:
  started · epoch_begin · batch (at most ~4 a second) · epoch_end · preview · early_stopping
  · evaluating · then exactly one of finished / discarded / failed.

Plain Python: nothing here imports TensorFlow, NumPy or Streamlit.
"""
import dataclasses
import json
import time
from pathlib import Path

from vae.ml.config import STOP_USER, TrainConfig

JOB_FILE, ARGS_FILE, RUN_FILE, PROGRESS_FILE = "job.json", "args.json", "run.json", "progress.jsonl"
PREVIEW_FILE, STOP_FILE, END_FILE, LOG_FILE = "preview.npz", "stop.json", "end.json", "trainer.log"
LOCK_FILE = ".lock"
EVAL_SECONDS = 10.0  # encode 70k images, decode 10k, 5-NN, save
RECENT_BATCHES = 300  # batch events kept in JobStatus.recent

# queued → running → finished | stopped (kept a partial model) | discarded | cancelled | failed
ACTIVE_STATES = ("queued", "running")
ENDED_STATES = ("finished", "stopped", "discarded", "cancelled", "failed")


@dataclasses.dataclass
class JobStatus:
    """Where a job stands: its JobInfo (vae/jobs/record.py), folded with what happened since."""
    id: str
    name: str
    owner: str
    config: TrainConfig  # its JobInfo's
    model_dir: str
    submitted: float
    runner: str = "local"
    state: str = "queued"  # see ACTIVE_STATES and ENDED_STATES
    phase: str = "waiting"  # waiting | starting | training | evaluating | done
    position: int | None = None  # 1-based place among the queued jobs, while queued
    start_eta: float | None = None  # seconds until it is expected to start, while queued
    started: float | None = None  # when its trainer started
    ended: float | None = None
    stop_requested: bool = False
    epoch: int = 0  # 1-based, the current or last epoch
    epochs: int = 0
    batch: int = 0  # batches done in this epoch
    batches: int = 0  # batches per epoch
    fraction: float = 0.0  # of the training batches, all epochs
    elapsed: float = 0.0  # seconds since the trainer started
    eta: float | None = None  # seconds left, from measured throughput; None before it is known
    samples_per_second: float | None = None  # training throughput, validation included
    startup_seconds: float | None = None  # trainer start → first epoch (imports, data, model)
    history: list = dataclasses.field(default_factory=list)  # epoch_end logs, with "epoch"
    recent: list = dataclasses.field(default_factory=list)  # recent batch events, with "step"
    early_stopping: dict | None = None
    preview_epoch: int | None = None
    stop_reason: str | None = None
    metrics: dict | None = None
    error: str | None = None

    @property
    def active(self):
        return self.state in ACTIVE_STATES


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
    """progress.jsonl as a runner reads it, incrementally: the file only grows."""

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


def new_status(info, runner):
    return JobStatus(id=info.id, name=info.name, owner=info.owner, config=info.config,
                     model_dir=info.model_dir, submitted=info.submitted, runner=runner,
                     epochs=info.config.epochs)


def fold_events(s, events, now=None):
    """Fold the trainer's events into the JobStatus `s` (whose state the runner set: running
    once the trainer started). The events' own terminal event wins over anything else."""
    train_start = last_progress = eval_start = None
    last_time = s.started
    for e in events:
        kind, last_time = e["type"], e["time"]
        if kind == "started":
            s.started = s.started or e["time"]
            s.phase = "starting" if s.phase == "waiting" else s.phase
        elif kind == "epoch_begin":
            s.phase, s.epoch, s.batch, s.batches = "training", e["epoch"], 0, e["batches"]
            s.epochs = e["epochs"]
            if train_start is None:
                train_start = e["time"]
                if s.started is not None:
                    s.startup_seconds = train_start - s.started
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
            s.ended = e["time"]
        elif kind == "discarded":
            s.state, s.stop_reason, s.ended = "discarded", STOP_USER, e["time"]
        elif kind == "failed":
            s.state, s.error, s.ended = "failed", e["error"], e["time"]
    s.recent = s.recent[-RECENT_BATCHES:]
    if s.started is not None and last_time is not None:
        s.elapsed = last_time - s.started
    total = s.epochs * s.batches
    done = (s.epoch - 1) * s.batches + s.batch if s.epoch else 0
    s.fraction = done / total if total else 0.0
    if train_start is not None and last_progress is not None and done:
        # measured from the first epoch's start, so validation and previews are included
        rate = done / max(last_progress - train_start, 1e-6)  # batches a second
        s.samples_per_second = rate * s.config.batch_size
        s.eta = (total - done) / rate + EVAL_SECONDS  # an upper bound: early stopping may cut it
    if s.phase == "evaluating":
        s.fraction = 1.0
        s.eta = max(0.0, EVAL_SECONDS - ((now or time.time()) - eval_start))
    return s


def end(s, verdict):
    """Apply the runner's verdict (end.json, or what it concluded) unless the trainer gave one."""
    if s.state in ENDED_STATES:
        return s
    s.state = verdict["state"]
    s.ended = verdict.get("time")
    if s.state == "failed":
        s.error = verdict.get("reason") or "the job ended without a word"
    elif s.state == "discarded":
        s.stop_reason = STOP_USER
    elif s.state == "finished":  # a stop that came after the version was saved
        s.metrics = verdict.get("metrics")
    return s


def finish(s):
    """Last touches once the state is final."""
    if s.state in ENDED_STATES:
        s.phase, s.eta, s.position, s.start_eta = "done", 0.0, None, None
        s.fraction = 1.0 if s.state == "finished" else s.fraction
    return s
