"""The built-in runner: trainer processes on this machine, queued in files.

Why a process: a Keras training thread inside the Streamlit server starves (Streamlit runs
a full gc.collect() after every script run), so each job runs in a fresh interpreter,
`python -m vae.trainer JOB_DIR`. Why files: every browser session, every server process
over the same models folder, and a server restarted after a crash must see the same queue;
files outlive them all.

Up to `max_jobs` trainers run at once; the other jobs wait in submission order. Whoever
holds the folder's lock (an flock, released by the kernel when its holder dies) starts the
next ones: a background thread of each runner instance does it twice a second, and so do
submit and stop. A job is started once: its run.json is written under the lock.

Nothing here imports TensorFlow.
"""
import contextlib
import fcntl
import shutil
import threading
import time
from pathlib import Path

import numpy as np

from vae import settings
from vae.jobs import estimates, events
from vae.jobs.events import (ARGS_FILE, END_FILE, JOB_FILE, LOCK_FILE, LOG_FILE, PREVIEW_FILE, PROGRESS_FILE,
                             RUN_FILE, STOP_FILE, EventReader, JobInfo)
from vae.jobs.processes import creation_time, kill, process_state, spawn_trainer
from vae.jobs.protocol import (OwnerBusy, RunnerUnavailable, check_may_stop, check_model_name, new_job_id,
                               order)
from vae.model_store import join, open_versions
from vae.store import check_writable, read_json, write_json_atomic

KEEP_ENDED = 50  # job directories of ended jobs kept (their models are never touched)
DISPATCH_SECONDS = 0.5


class LocalRunner:
    name = "local"

    def __init__(self, models_dir=None, runtime_dir=None, max_jobs=None, cpus=None, dispatch=True):
        self.models_dir = models_location(models_dir)  # a folder, or an object store's URL
        self.versions = open_versions(self.models_dir)
        self.runtime_dir = Path(runtime_dir or settings.jobs_dir(self.models_dir))
        self.max_jobs = max_jobs or settings.max_jobs()
        self.cpus = cpus or settings.job_cpus()
        self._infos = {}  # job id → JobInfo (job.json never changes)
        self._readers = {}  # job id → EventReader
        self._cache_lock = threading.Lock()  # one instance serves many Streamlit sessions
        self._closed = threading.Event()
        if dispatch:
            threading.Thread(target=self._dispatch_loop, daemon=True, name="vae-job-dispatch").start()

    def describe(self):
        return (f"on this server, {self.max_jobs} at a time with {self.cpus} CPU thread"
                f"{'s' if self.cpus > 1 else ''} each; the others wait their turn")

    def close(self):
        self._closed.set()

    # -- the lock and the files

    @contextlib.contextmanager
    def _lock(self):
        """Serialises submit, dispatch and stop across sessions and processes; released on
        close, so a crashed server cannot leave it held."""
        try:
            self.runtime_dir.mkdir(parents=True, exist_ok=True)
            handle = open(self.runtime_dir / LOCK_FILE, "a")
        except OSError as err:
            raise RunnerUnavailable(f"the job folder {self.runtime_dir} cannot be used "
                                    f"({err.strerror or err}): the operator can make it writable") from err
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _info(self, job_dir):
        with self._cache_lock:
            info = self._infos.get(job_dir.name)
        if info is None:
            raw = read_json(job_dir / JOB_FILE)
            if not isinstance(raw, dict):
                return None  # being written (job.json comes last), or not a job of ours
            try:
                info = JobInfo(**raw)
            except TypeError:
                return None
            with self._cache_lock:
                self._infos[job_dir.name] = info
        return info

    def _events(self, info):
        with self._cache_lock:
            reader = self._readers.setdefault(info.id, EventReader(Path(info.job_dir) / PROGRESS_FILE))
            return list(reader.read())

    def _status(self, info):
        s = events.new_status(info, self.name)
        job_dir = Path(info.job_dir)
        verdict, run = read_json(job_dir / END_FILE), read_json(job_dir / RUN_FILE)
        if run is None and verdict is None:
            return s  # queued
        alive, code = False, None
        if run is not None:
            s.state, s.phase, s.started = "running", "starting", run.get("started")
        if run is not None and verdict is None:
            # liveness first, events second: a trainer that writes its last event and exits
            # between the two reads must not look like one that died without a word
            alive, code = process_state(run.get("pid"), run.get("pid_start"))
        events.fold_events(s, self._events(info))
        s.stop_requested = (job_dir / STOP_FILE).exists()
        if verdict is not None:
            events.end(s, verdict)
        elif s.state == "running" and not alive:
            events.end(s, {"state": "failed", "time": time.time(), "reason": self._death_note(info, code)})
        return events.finish(s)

    def _death_note(self, info, code):
        why = "unknown exit code" if code is None else f"exit code {code}"
        if code is not None and code < 0:
            why = f"killed by signal {-code}"
        last = _last_line(Path(info.job_dir) / LOG_FILE)
        return (f"the trainer process ended without reporting ({why}: killed, or out of memory?)"
                + (f"; its last words: {last}" if last else ""))

    def _scan(self):
        """Every job's status, with queue places and expected starts filled in."""
        if not self.runtime_dir.is_dir():
            return []
        statuses = []
        for job_dir in sorted(p for p in self.runtime_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            info = self._info(job_dir)
            if info is not None:
                statuses.append(self._status(info))
        statuses = order(statuses)
        self._fill_queue(statuses)
        return statuses

    def _fill_queue(self, statuses):
        queued = [s for s in statuses if s.state == "queued"]
        if not queued:
            return
        running = [s for s in statuses if s.state == "running"]
        speeds = {}

        def speed(s):
            arch = s.config.get("arch", "reference")
            if arch not in speeds:
                speeds[arch] = self.speed(arch, statuses)
            return speeds[arch]

        left = [estimates.remaining_seconds(s, speed(s)) for s in running]
        durations = [estimates.estimate_seconds(s.config, speed(s)) for s in queued]
        for place, (s, start) in enumerate(zip(queued, estimates.start_times(left, durations, self.max_jobs)), 1):
            s.position, s.start_eta = place, start

    # -- the interface (vae/jobs/protocol.py)

    def submit(self, config, owner, name=None, operator=False):
        config = estimates.as_config(config)
        config.validate()  # refuse before queueing: a bad option must not cost a TF import
        job_id = new_job_id()
        name = name or job_id
        check_model_name(name)
        target = join(self.models_dir, name)
        # before queueing: a read-only models folder would only fail after minutes of training
        self.versions.check_writable()
        check_writable(self.runtime_dir, "the job folder")
        with self._lock():
            statuses = self._scan()
            if not operator and any(s.owner == owner and s.active for s in statuses):
                raise OwnerBusy("you already have a job queued or running: stop it or wait for it to end")
            if self.versions.exists(name) or any(s.name == name and s.active for s in statuses):
                raise FileExistsError(f"{target} already exists; choose another name")
            job_dir = self.runtime_dir / job_id
            job_dir.mkdir()
            info = JobInfo(id=job_id, name=name, owner=owner, config=config.__dict__.copy(),
                           model_dir=str(target), job_dir=str(job_dir), submitted=time.time(), cpus=self.cpus)
            try:
                # job.json last: other readers see the job only once it is complete
                write_json_atomic(job_dir / JOB_FILE, info.__dict__)
            except BaseException:  # a full disk, say: no half-made job
                shutil.rmtree(job_dir, ignore_errors=True)
                raise
            self._dispatch_locked()
        return job_id

    def jobs(self):
        return self._scan()

    def status(self, job_id):
        return next((s for s in self._scan() if s.id == job_id), None)

    def stop(self, job_id, keep=False, owner=None, operator=False):
        with self._lock():
            s = next((s for s in self._scan() if s.id == job_id), None)
            if s is None or not s.active:
                return False
            check_may_stop(s, owner, operator)
            job_dir = self.runtime_dir / job_id
            if s.state == "queued":
                write_json_atomic(job_dir / END_FILE, {"state": "cancelled", "time": time.time()})
                return True
            write_json_atomic(job_dir / STOP_FILE, {"keep": bool(keep)})
            if keep:
                return True  # the trainer stops at its next batch, evaluates and saves
            run = read_json(job_dir / RUN_FILE) or {}
            kill(run.get("pid"), run.get("pid_start"))  # discarding: nothing to wait for
            self._settle_after_kill(job_id, job_dir)
            self._dispatch_locked()
        return True

    def _settle_after_kill(self, job_id, job_dir):
        """The verdict of a killed trainer: its own last event if it wrote one, else discarded;
        a version it had already renamed into place makes the job finished (the stop came late)."""
        info = self._info(job_dir)
        s = events.fold_events(events.new_status(info, self.name), self._events(info))
        if s.state in events.ENDED_STATES:
            return
        metrics = saved_metrics(self.versions, info.name)
        if metrics is not None:
            verdict = {"state": "finished", "time": time.time(), "metrics": metrics}
        else:
            verdict = {"state": "discarded", "time": time.time()}
        write_json_atomic(job_dir / END_FILE, verdict)

    def preview(self, job_id):
        info = self._info(self.runtime_dir / job_id)
        path = info and Path(info.job_dir) / PREVIEW_FILE
        if path is None or not path.exists():
            return None
        return read_preview(path)

    def speed(self, arch, statuses=None):
        statuses = self._scan() if statuses is None else statuses
        return estimates.measured_speed(statuses, arch, lambda: estimates.speed_from_versions(
            _versions(self.versions), arch))

    def wait(self, job_id, timeout, poll=0.1):
        """Wait until the job has ended and its trainer exited; its final JobStatus. For tests and CLIs."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.status(job_id)
            run = read_json(self.runtime_dir / job_id / RUN_FILE) or {}
            if s is None or (not s.active and not process_state(run.get("pid"), run.get("pid_start"))[0]):
                return s
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {s.state} after {timeout} s")
            self.dispatch()
            time.sleep(poll)

    # -- starting queued jobs

    def dispatch(self):
        with self._lock():
            self._dispatch_locked()

    def _dispatch_locked(self):
        statuses = self._scan()
        for s in statuses:  # a trainer gone without a word: its verdict written once, for good
            if s.state == "failed" and not (self.runtime_dir / s.id / END_FILE).exists():
                write_json_atomic(self.runtime_dir / s.id / END_FILE,
                                  {"state": "failed", "time": s.ended or time.time(), "reason": s.error})
        free = self.max_jobs - sum(s.state == "running" for s in statuses)
        for s in [s for s in statuses if s.state == "queued"][:max(0, free)]:
            self._start(self._info(self.runtime_dir / s.id))
        self._prune(statuses)

    def _start(self, info):
        job_dir = Path(info.job_dir)
        write_json_atomic(job_dir / ARGS_FILE, {"job_dir": info.job_dir, "config": info.config,
                                                 "out_dir": info.model_dir, "threads": info.cpus})
        proc = spawn_trainer(job_dir)
        try:
            write_json_atomic(job_dir / RUN_FILE, {"pid": proc.pid, "pid_start": creation_time(proc.pid),
                                                   "started": time.time()})
        except BaseException:  # no trainer nobody knows of
            proc.kill()
            proc.wait()
            raise

    def _prune(self, statuses):
        ended = [s for s in statuses if not s.active]
        for s in ended[KEEP_ENDED:]:
            shutil.rmtree(self.runtime_dir / s.id, ignore_errors=True)
            with self._cache_lock:
                self._infos.pop(s.id, None)
                self._readers.pop(s.id, None)

    def _dispatch_loop(self):
        while not self._closed.wait(DISPATCH_SECONDS):
            try:
                if self.runtime_dir.is_dir():
                    self.dispatch()
            except Exception:  # a full disk or a vanished folder: try again next time
                pass


def read_preview(path):
    """z (2000, 2) float32, labels uint8, manifold uint8, epoch int, extent float."""
    with np.load(path) as npz:
        out = {k: npz[k] for k in npz.files}
    out["epoch"], out["extent"] = int(out["epoch"]), float(out["extent"])
    return out


def _versions(versions):
    """(name, metadata) of the sound versions: what speed estimates are made from."""
    return [(e.name, e.metadata) for e in versions.entries() if e.metadata and not e.damage]


def models_location(models_dir=None):
    """A runner's models location: the one given (a folder or an s3:// URL), else the setting's."""
    location = settings.models_location() if models_dir is None else models_dir
    return location if settings.is_object_store(location) else Path(location)


def saved_metrics(versions, name):
    """The metrics of the version `name` if it was saved (a stop that came after the save), else None."""
    try:
        if not versions.exists(name):
            return None
        versions.refresh()
        entry = versions.entry(name)
    except OSError:  # the store cannot be reached: nothing is known to be saved
        return None
    return (entry.metadata or {}).get("metrics", {}) if entry is not None else {}


def _last_line(path, limit=300):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 4096))
            lines = [ln.strip() for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return None
    return lines[-1][:limit] if lines else None
