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
import threading
import time
from pathlib import Path

from vae import settings
from vae.jobs import events
from vae.jobs.base import Runner
from vae.jobs.events import END_FILE, LOCK_FILE, LOG_FILE, RUN_FILE, STOP_FILE
from vae.jobs.processes import creation_time, kill, process_state, spawn_trainer
from vae.jobs.protocol import RunnerUnavailable, check_may_stop
from vae.jobs.record import write_args
from vae.store.disk import read_json, write_json_atomic

KEEP_ENDED = 50  # job directories of ended jobs kept (their models are never touched)
DISPATCH_SECONDS = 0.5


class LocalRunner(Runner):
    name = "local"

    def __init__(self, models_dir=None, runtime_dir=None, max_jobs=None, cpus=None, dispatch=True):
        super().__init__(models_dir, runtime_dir, cpus)
        self.max_jobs = max_jobs or settings.max_jobs()
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
        events.fold_events(s, self.folder.events(info))
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

    # -- what the base needs (vae/jobs/base.py)

    def _statuses(self):
        return [self._status(info) for info in self.folder.infos()]

    def _slots(self, statuses):
        return self.max_jobs

    def _trainer_gone(self, job_id):
        run = read_json(self.runtime_dir / job_id / RUN_FILE) or {}
        return not process_state(run.get("pid"), run.get("pid_start"))[0]

    def _while_waiting(self):
        self.dispatch()  # as the background thread does, which a runner made with dispatch=False lacks

    # -- the interface's verbs (vae/jobs/protocol.py)

    def submit(self, config, owner, name=None, operator=False):
        prepared = self.folder.prepare(config, name)
        with self._lock():
            self.folder.create(self._scan(), prepared, owner, operator, self.cpus)
            self._dispatch_locked()
        return prepared[1]

    def stop(self, job_id, keep=False, owner=None, operator=False):
        with self._lock():
            s = self.status(job_id)
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
        info = self.folder.infos_by_id()[job_id]
        s = events.fold_events(events.new_status(info, self.name), self.folder.events(info))
        if s.state in events.ENDED_STATES:
            return
        metrics = self.folder.saved_metrics(info.name)
        if metrics is not None:
            verdict = {"state": "finished", "time": time.time(), "metrics": metrics}
        else:
            verdict = {"state": "discarded", "time": time.time()}
        write_json_atomic(job_dir / END_FILE, verdict)

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
        infos = self.folder.infos_by_id()
        for s in [s for s in statuses if s.state == "queued"][:max(0, free)]:
            self._start(infos[s.id])
        self._prune(statuses)

    def _start(self, info):
        job_dir = Path(info.job_dir)
        write_args(info, log_to_file=True)
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
            self.folder.forget(s.id)

    def _dispatch_loop(self):
        while not self._closed.wait(DISPATCH_SECONDS):
            try:
                if self.runtime_dir.is_dir():
                    self.dispatch()
            except Exception:  # a full disk or a vanished folder: try again next time
                pass


def _last_line(path, limit=300):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 4096))
            lines = [ln.strip() for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return None
    return lines[-1][:limit] if lines else None
