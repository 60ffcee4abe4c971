"""Training jobs for many people: one interface, two runners.

  protocol.py    what a runner does (submit, jobs, status, stop, preview) and its errors
  base.py        what both runners share: the job folders, and jobs, status, preview, speed, wait
  runner.py      the runner the settings name (make_runner)
  events.py      the job directory and the trainer's events: one format for both runners
  record.py      a job's record (job.json) and its trainer's arguments (args.json), TrainConfig typed
  people.py      owner ids and anonymous names
  estimates.py   how long a job takes, and when a queued one starts
  local.py       the built-in runner: trainer processes on this machine, queued in files
  ray_runner.py  the cluster runner: Ray's Jobs API (ray is imported only by it)
  processes.py   spawning a trainer process, and whether it still runs
  trainer.py     the trainer process itself (`python -m vae.trainer JOB_DIR`)

Nothing here imports Streamlit, and nothing imports TensorFlow but the trainer process.
"""
from vae.jobs.events import ACTIVE_STATES, ENDED_STATES, JobStatus
from vae.jobs.protocol import OwnerBusy, RunnerUnavailable
from vae.jobs.record import JobInfo
from vae.store.disk import NotWritableError

__all__ = ["ACTIVE_STATES", "ENDED_STATES", "JobInfo", "JobStatus", "NotWritableError", "OwnerBusy",
           "RunnerUnavailable"]
