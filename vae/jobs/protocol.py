"""What every job runner does, and the errors it raises.

A runner takes training jobs from many people and runs them in turn:

  submit(config, owner, name=None, operator=False) → job id
      Queue a job for `owner` (an owner id, vae.jobs.people). Refused with OwnerBusy when
      that owner already has a job queued or running, unless `operator`.
  jobs() → [JobStatus]
      Running jobs, then queued ones in queue order (each with its position and expected
      start), then recently ended ones, newest first.
  status(job_id) → JobStatus or None
  stop(job_id, keep=False, owner=None, operator=False) → bool
      A queued job is cancelled; a running one stops: with `keep`, at its next batch, keeping
      the model as a version; without, at once, keeping nothing. Only its owner or the
      operator may stop a job (PermissionError). False when it is not active.
  preview(job_id) → the latest latent-space preview (vae.jobs.trainer.write_preview) or None
  speed(arch, statuses=None) → vae.jobs.estimates.Speed: what estimates are made from, and
      its source; `statuses`, a jobs() the caller already has, spares another scan
  wait(job_id, timeout) → the final JobStatus, once the job ended and its trainer left (tests, CLIs)
  describe() → one line for the Train tab: where and how jobs run

Two runners implement it: vae.jobs.local (trainer processes on this machine, a queue in
files) and vae.jobs.ray_runner (Ray's Jobs API), on a base of what they share
(vae.jobs.base.Runner). tests/test_runners.py holds both to it.
"""
import secrets

from vae.ml.config import run_name
from vae.store.disk import SHIPPED_MODELS, VERSION_NAME

RECENT_ENDED = 30  # ended jobs a runner lists


class RunnerUnavailable(RuntimeError):
    """The runner cannot be reached or used; the message says what failed and how to fix it."""


class OwnerBusy(RuntimeError):
    """One job at a time per person."""


def new_job_id(now=None):
    """vae-YYYYmmdd-HHMMSS-xxxx: sortable, unique, and also the name of the version it makes
    (run_name's, made unique by four hex digits: two jobs may start in the same second)."""
    return f"{run_name(now)}-{secrets.token_hex(2)}"


def check_model_name(name):
    if name in SHIPPED_MODELS:
        raise ValueError(f"{name!r} ships with VAE Explorer and cannot be replaced")
    if not VERSION_NAME.fullmatch(name or ""):
        raise ValueError(f"model name {name!r}: use letters, digits, '.', '_' and '-', "
                         "starting with a letter or digit")


def check_may_stop(status, owner, operator):
    if not operator and owner != status.owner:
        raise PermissionError("only the person who started this job, or the operator, may stop it")


def order(statuses):
    """Running (by start), queued (by submission), then ended (newest first, at most RECENT_ENDED)."""
    queued = sorted((s for s in statuses if s.state == "queued"), key=lambda s: (s.submitted, s.id))
    running = sorted((s for s in statuses if s.state == "running"), key=lambda s: (s.started or 0, s.id))
    ended = sorted((s for s in statuses if not s.active), key=lambda s: (s.ended or s.submitted), reverse=True)
    return running + queued + ended[:RECENT_ENDED]
