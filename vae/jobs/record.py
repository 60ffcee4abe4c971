"""A job's record: what was asked (job.json), and what its trainer is told (args.json).

Both carry the job's TrainConfig, typed from the form to the trainer: a TrainConfig in
memory, its dict (TrainConfig.to_dict) in the files, a TrainConfig again when read
(TrainConfig.from_dict, where the defaults of options a record leaves out live). Files
written before a config option existed therefore still read, and mean what they meant.

Both runners write args.json with write_args, and the trainer reads it with read_args.
"""
import dataclasses
import json
from pathlib import Path

from vae.jobs.events import ARGS_FILE
from vae.ml.config import TrainConfig
from vae.store.disk import write_json_atomic


@dataclasses.dataclass
class JobInfo:
    """What was asked, fixed at submission (job.json)."""
    id: str
    name: str  # of the model version it makes
    owner: str  # an opaque owner id (vae.jobs.people), never a browser's secret
    config: TrainConfig
    model_dir: str  # the target: models_dir/name, created only when the job succeeds
    job_dir: str
    submitted: float  # Unix seconds
    cpus: int = 1  # threads the trainer uses (and, on Ray, the CPUs it reserves)

    def to_json(self):
        return {**dataclasses.asdict(self), "config": self.config.to_dict()}

    @classmethod
    def from_json(cls, raw):
        """The JobInfo a job.json holds; ValueError or TypeError when it holds something else."""
        if not isinstance(raw, dict) or not isinstance(raw.get("config"), dict):
            raise ValueError("not a job record")
        return cls(**{**raw, "config": TrainConfig.from_dict(raw["config"])})


@dataclasses.dataclass
class TrainerArgs:
    """What the trainer process is told (args.json): vae.jobs.trainer.run_job's arguments."""
    job_dir: str
    config: TrainConfig
    out_dir: str  # where the version goes: JobInfo.model_dir
    threads: int
    log_to_file: bool = True  # stdout and stderr to trainer.log; Ray keeps them with its job instead


def write_args(info, log_to_file):
    write_json_atomic(Path(info.job_dir) / ARGS_FILE,
                      {"job_dir": info.job_dir, "config": info.config.to_dict(), "out_dir": info.model_dir,
                       "threads": info.cpus, "log_to_file": log_to_file})


def read_args(job_dir):
    """The TrainerArgs in job_dir/args.json; a missing or damaged file raises, saying which."""
    raw = json.loads((Path(job_dir) / ARGS_FILE).read_text())
    return TrainerArgs(**{**raw, "config": TrainConfig.from_dict(raw["config"])})
