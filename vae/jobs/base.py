"""What both runners share (vae.jobs.local and vae.jobs.ray_runner): their job folders, and
the read side of the interface (vae/jobs/protocol.py), all made from one scan of the jobs.

A runner supplies how it sees its jobs (_statuses: each job's status, from its folder and
whatever runs the trainer), how many run at once (_slots), whether an ended job's trainer
is really gone (_trainer_gone), and the verbs that act: submit, stop, describe, close.
"""
import time

from vae import settings
from vae.jobs.folder import JobFolder
from vae.jobs.protocol import RunnerUnavailable, order


class Runner:
    name = None  # JobStatus.runner: "local" or "ray"
    wait_poll = 0.1  # seconds between two looks in wait()

    def __init__(self, models_dir=None, runtime_dir=None, cpus=None):
        self.folder = JobFolder(models_dir, runtime_dir)  # a folder, or an object store's URL
        self.models_dir, self.runtime_dir = self.folder.models_dir, self.folder.root
        self.cpus = cpus or settings.job_cpus()

    # -- what each runner supplies

    def _statuses(self):
        """Every job's JobStatus, in any order."""
        raise NotImplementedError

    def _slots(self, statuses):
        """How many jobs run at once: what queue places and expected starts are made from."""
        raise NotImplementedError

    def _trainer_gone(self, job_id):
        """Has the trainer of this ended job left? Its last event comes before it exits."""
        raise NotImplementedError

    def _while_waiting(self):
        """Called between two looks in wait()."""

    # -- the interface's read side

    def _scan(self):
        """Every job's status, ordered (protocol.order), with queue places and expected starts."""
        statuses = order(self._statuses())
        return self.folder.fill_queue(statuses, self._slots(statuses))

    def jobs(self):
        return self._scan()

    def status(self, job_id):
        return next((s for s in self._scan() if s.id == job_id), None)

    def preview(self, job_id):
        return self.folder.preview(job_id)

    def speed(self, arch, statuses=None):
        """`statuses`: the caller's scan, if it has one (each scan reads every job's files)."""
        if statuses is None:
            try:
                statuses = self._scan()
            except RunnerUnavailable:  # an estimate can do without the runner's jobs
                statuses = []
        return self.folder.speed(arch, statuses)

    def wait(self, job_id, timeout):
        """Wait until the job has ended and its trainer is gone; its final JobStatus. For tests and CLIs."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.status(job_id)
            if s is None or (not s.active and self._trainer_gone(job_id)):
                return s
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {s.state} after {timeout} s")
            self._while_waiting()
            time.sleep(self.wait_poll)
