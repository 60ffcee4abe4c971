"""The cluster runner: training jobs on a Ray cluster, through Ray's Jobs API.

Each job is one Ray job: `python -m vae.trainer JOB_DIR`, submitted with a submission id of
ours (the job id), `entrypoint_num_cpus` (a node runs it only when it has that many CPUs
free: Ray's scheduler is the queue) and metadata naming this app, the owner, the config and
the models folder. The trainer reports exactly as on this machine, into its job directory
under the models folder: that folder must be storage every node sees at the same path.

What each job is comes from our job directories; where it stands comes from Ray's job list,
where only entries whose metadata is ours count. A job Ray no longer knows (the cluster was
restarted) is failed, saying so; a cluster that does not answer raises RunnerUnavailable
within a few seconds, so the page can say so and keep working.

`ray` is imported on first use only: the built-in runner never loads it.
"""
import concurrent.futures
import json
import shlex
import threading
import time
from pathlib import Path

from vae import settings
from vae.error_text import first_line
from vae.jobs import events, ray_python
from vae.jobs.base import Runner
from vae.jobs.events import END_FILE, STOP_FILE
from vae.jobs.protocol import RunnerUnavailable, check_may_stop
from vae.jobs.record import write_args
from vae.store.disk import read_json

APP = "vae-explorer"  # metadata["vae_app"] of every job we submit
HOW_TO_FIX = ("Start the cluster (`ray start --head --dashboard-host 127.0.0.1`) or point RAY_ADDRESS at "
              "its dashboard, e.g. http://127.0.0.1:8265; the operator can also set VAE_JOB_RUNNER=local.")
CALL_SECONDS = 5.0  # no call to the cluster may hold a page longer
SUBMIT_SECONDS = 120.0  # a submission may upload the code (about 45 MB) the first time
DOWN_SECONDS = 5.0  # after a failed call, calls fail at once for this long instead of each waiting


class RayRunner(Runner):
    name = "ray"
    wait_poll = 0.2  # each look asks the cluster

    def __init__(self, address=None, models_dir=None, runtime_dir=None, cpus=None, code=None):
        self.address = address or settings.ray_address()
        if not self.address:
            raise RunnerUnavailable("VAE_JOB_RUNNER=ray needs RAY_ADDRESS, the cluster's dashboard "
                                    "(e.g. http://127.0.0.1:8265).")
        super().__init__(models_dir, runtime_dir, cpus)
        self.code = code or settings.ray_code()
        self._client = None
        self._down_until, self._down_reason = 0.0, ""
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="vae-ray")
        self._submit_lock = threading.Lock()  # one active job per owner, within this process
        self._python_checked = False  # the cluster's Python has the requirements (asked once)

    def describe(self):
        return (f"on the Ray cluster at {self.address}, {self.cpus} CPU{'s' if self.cpus > 1 else ''} a job; "
                "Ray's scheduler starts the waiting jobs as CPUs free up")

    def close(self):
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- talking to the cluster, never for long

    def _call(self, what, fn, *args, timeout=CALL_SECONDS, **kwargs):
        if time.monotonic() < self._down_until:  # it just failed: say so at once, not after a timeout
            raise RunnerUnavailable(self._down_reason)
        future = self._pool.submit(fn, *args, **kwargs)
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            self._down(f"The Ray cluster at {self.address} did not answer ({what}) within {timeout:.0f} s. "
                       f"{HOW_TO_FIX}")
        except (ConnectionError, OSError) as err:  # requests' ConnectionError is an OSError
            self._down(f"The Ray cluster at {self.address} cannot be reached ({what}: {first_line(err)}). "
                       f"{HOW_TO_FIX}")
        except RuntimeError as err:  # the Jobs API answered with an HTTP error
            raise RunnerUnavailable(f"The Ray cluster at {self.address} refused {what}: {first_line(err)}") from err

    def _down(self, reason):
        self._client = None  # reconnect next time: the head may come back
        self._down_until, self._down_reason = time.monotonic() + DOWN_SECONDS, reason
        raise RunnerUnavailable(reason)

    def _jobs_client(self):
        if self._client is None:
            from ray.job_submission import JobSubmissionClient  # here, and only here, ray is imported
            self._client = self._call("connecting", JobSubmissionClient, self.address)
        return self._client

    def _ray_jobs(self):
        """Ray's entries for our jobs, by submission id; foreign or malformed entries left out."""
        client = self._jobs_client()
        ours = {}
        for entry in self._call("listing jobs", client.list_jobs):
            meta = getattr(entry, "metadata", None)
            sid = getattr(entry, "submission_id", None)
            if (isinstance(meta, dict) and isinstance(sid, str) and meta.get("vae_app") == APP
                    and meta.get("vae_models_dir") == str(self.models_dir) and isinstance(meta.get("vae_owner"), str)):
                ours[sid] = entry
        return ours

    # -- our side: job directories (vae/jobs/folder.py)

    def _status(self, info, entry):
        s = events.new_status(info, self.name)
        job_dir = Path(info.job_dir)
        verdict = read_json(job_dir / END_FILE)
        if entry is not None and entry.status == "RUNNING":
            s.state, s.phase = "running", "starting"
        events.fold_events(s, self.folder.events(info))
        s.stop_requested = (job_dir / STOP_FILE).exists()
        if s.started is None and s.state == "running" and entry.start_time:
            s.started = entry.start_time / 1000
        if verdict is not None:
            events.end(s, verdict)  # cancelled here before Ray caught up, say
        elif s.state not in events.ENDED_STATES:
            self._ray_verdict(s, info, entry)
        return events.finish(s)

    def _ray_verdict(self, s, info, entry):
        """Where Ray says the job stands, when the trainer has not said it ended."""
        now = time.time()
        if entry is None and now - info.submitted < SUBMIT_SECONDS:
            s.state = "queued"  # job.json is written before Ray accepts the job: still being submitted
        elif entry is None:
            events.end(s, {"state": "failed", "time": now, "reason":
                           f"the Ray cluster at {self.address} no longer knows this job (was it restarted?)"})
        elif entry.status in ("PENDING", "RUNNING"):
            s.state = "queued" if entry.status == "PENDING" else "running"
        elif entry.status == "STOPPED":
            metrics = self.folder.saved_metrics(info.name)
            if metrics is not None:  # the stop came after the version was saved
                verdict = {"state": "finished", "time": now, "metrics": metrics}
            else:
                verdict = {"state": "discarded" if s.started else "cancelled",
                           "time": (entry.end_time or now * 1000) / 1000}
            # Ray's STOPPED is final and its trainer gone: kept as ours, so that later scans (every
            # page's poll) do not ask the store again, as the local runner keeps a killed job's
            try:
                self.folder.write(info.id, END_FILE, verdict)
            except OSError:  # only a saving: the next scan works it out again
                pass
            events.end(s, verdict)
        else:  # SUCCEEDED or FAILED without a word from the trainer: killed, or never started
            reason = f"Ray: {entry.message or entry.status}"
            if entry.driver_exit_code is not None:
                reason += f" (exit code {entry.driver_exit_code})"
            last = self._last_log_line(info.id)
            if last and "ModuleNotFoundError" in last:  # the node's Python lacks the requirements
                last += f". To fix it, {ray_python.HOW_TO_FIX}"
            events.end(s, {"state": "failed", "time": (entry.end_time or now * 1000) / 1000,
                           "reason": reason + (f"; its last words: {last}" if last else "")})

    def _last_log_line(self, job_id):
        try:
            logs = self._call("reading logs", self._jobs_client().get_job_logs, job_id)
        except (RunnerUnavailable, RuntimeError):
            return None
        lines = [ln.strip() for ln in logs.splitlines() if ln.strip()]
        return lines[-1][:300] if lines else None

    # -- what the base needs (vae/jobs/base.py)

    def _statuses(self):
        entries = self._ray_jobs()  # first: an unreachable cluster fails the listing, not half of it
        statuses = []
        for info in self.folder.infos():
            entry = entries.get(info.id)
            if entry is not None and entry.metadata.get("vae_owner") != info.owner:
                entry = None  # an entry with our id but not our owner: not ours
            statuses.append(self._status(info, entry))
        return statuses

    def _slots(self, statuses):
        # Ray does not say how many of our jobs fit at once; while some wait, those running fill it
        return max(1, sum(s.state == "running" for s in statuses))

    def _trainer_gone(self, job_id):
        """Ray agrees: it no longer lists the job, or lists it as over."""
        entry = self._ray_jobs().get(job_id)
        return entry is None or entry.status in ("STOPPED", "SUCCEEDED", "FAILED")

    # -- the interface's verbs (vae/jobs/protocol.py)

    def _check_python(self):
        """Refuse the first job, saying what to do, when the nodes' Python lacks the requirements
        (vae/jobs/ray_python.py): otherwise every job would fail at once on a missing module."""
        if self._python_checked:
            return
        problem = self._call("checking its Python", ray_python.check, self._jobs_client(),
                             timeout=ray_python.PROBE_SECONDS + CALL_SECONDS)
        if problem:
            raise RunnerUnavailable(problem)
        self._python_checked = True

    def submit(self, config, owner, name=None, operator=False):
        prepared = self.folder.prepare(config, name)
        self._check_python()
        with self._submit_lock:
            info = self.folder.create(self._scan(), prepared, owner, operator, self.cpus)
            try:
                write_args(info, log_to_file=False)  # Ray keeps the trainer's output with its job
                self._call("submitting the job", self._jobs_client().submit_job, timeout=SUBMIT_SECONDS,
                           entrypoint=self._entrypoint(Path(info.job_dir)), submission_id=info.id,
                           entrypoint_num_cpus=self.cpus, runtime_env=self._runtime_env(),
                           metadata={"vae_app": APP, "vae_owner": owner, "vae_name": info.name,
                                     "vae_models_dir": str(self.models_dir),
                                     "vae_config": json.dumps(info.config.to_dict(), sort_keys=True)})
            except BaseException:
                self.folder.forget(info.id)
                raise
        return info.id

    def _entrypoint(self, job_dir):
        run = f"python -m vae.trainer {shlex.quote(str(job_dir))}"
        if self.code == "installed":  # the project sits at this same path on every node
            return f"cd {shlex.quote(str(settings.REPO_ROOT))} && {run}"
        return run  # the uploaded working_dir is the job's current directory

    def _runtime_env(self):
        env = {}
        if self.code != "installed":
            # Ray zips the folder (what .rayignore and .gitignore leave: the code and data/, ~45 MB)
            # and caches it by content hash, so an unchanged project is uploaded once.
            env["working_dir"] = str(settings.REPO_ROOT)
        if settings.is_object_store(self.models_dir):
            # the trainer uploads to the same store: its endpoint and region, never credentials
            # (a node has its own: environment, profile or role)
            forwarded = settings.s3_forwarded_environment()
            if forwarded:
                env["env_vars"] = forwarded
        return env or None

    def stop(self, job_id, keep=False, owner=None, operator=False):
        s = self.status(job_id)
        if s is None or not s.active:
            return False
        check_may_stop(s, owner, operator)
        self.folder.write(job_id, STOP_FILE, {"keep": bool(keep) and s.state == "running"})
        if s.state == "running" and keep:
            return True  # the trainer stops at its next batch, evaluates and saves
        if s.state == "queued":
            # Ray applies a stop to a waiting job only once it gets its CPUs; our verdict is
            # final now, and the trainer, if Ray starts it anyway, reads stop.json and leaves.
            self.folder.write(job_id, END_FILE, {"state": "cancelled", "time": time.time()})
        self._call("stopping the job", self._jobs_client().stop_job, job_id)
        return True

