"""The job folders both runners keep under the models folder (<models>/.jobs/<job id>/, the
files described in vae/jobs/events.py), and what a runner does with them whatever runs the
trainer: making a job, reading its events, filling in the queue's places and expected starts.
"""
import shutil
import threading
import time
from pathlib import Path

import numpy as np

from vae import settings
from vae.jobs import estimates
from vae.jobs.events import JOB_FILE, PREVIEW_FILE, PROGRESS_FILE, EventReader
from vae.jobs.protocol import OwnerBusy, check_model_name, new_job_id
from vae.jobs.record import JobInfo
from vae.ml.config import as_config
from vae.store.location import join, open_versions
from vae.store.disk import check_writable, read_json, write_json_atomic


class JobFolder:
    def __init__(self, models_dir=None, runtime_dir=None):
        self.models_dir = models_location(models_dir)  # a folder, or an object store's URL
        self.versions = open_versions(self.models_dir)
        self.root = Path(runtime_dir or settings.jobs_dir(self.models_dir))
        self._infos = {}  # job id → JobInfo (job.json never changes)
        self._readers = {}  # job id → EventReader
        self._lock = threading.Lock()  # one runner serves many Streamlit sessions

    def path(self, job_id):
        return self.root / job_id

    def read(self, job_id, name):
        return read_json(self.path(job_id) / name)

    def write(self, job_id, name, obj):
        write_json_atomic(self.path(job_id) / name, obj)

    def infos(self):
        """Every complete job's JobInfo, oldest first; a folder without a readable job.json is
        being made (job.json comes last), or not a job of ours (nor one whose config has options
        this code does not know: TrainConfig.from_dict refuses them rather than guess)."""
        if not self.root.is_dir():
            return []
        found = []
        for job_dir in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            with self._lock:
                info = self._infos.get(job_dir.name)
            if info is None:
                try:
                    info = JobInfo.from_json(read_json(job_dir / JOB_FILE))
                except (TypeError, ValueError):
                    continue
                with self._lock:
                    self._infos[job_dir.name] = info
            found.append(info)
        return found

    def infos_by_id(self):
        return {info.id: info for info in self.infos()}

    def events(self, info):
        """The trainer's events so far (read incrementally: the file only grows)."""
        with self._lock:
            reader = self._readers.setdefault(info.id, EventReader(Path(info.job_dir) / PROGRESS_FILE))
            return list(reader.read())

    def forget(self, job_id):
        shutil.rmtree(self.path(job_id), ignore_errors=True)
        with self._lock:
            self._infos.pop(job_id, None)
            self._readers.pop(job_id, None)

    def prepare(self, config, name=None):
        """A checked config, a new job id, the version's name and its target folder; refused
        before anything is queued: a bad option, or a read-only folder, must not cost a
        TensorFlow import or minutes of training."""
        config = as_config(config)
        config.validate()
        job_id = new_job_id()
        name = name or job_id
        check_model_name(name)
        self.versions.check_writable()
        check_writable(self.root, "the job folder")
        return config, job_id, name, join(self.models_dir, name)

    def create(self, statuses, prepared, owner, operator, cpus):
        """Make the job folder of a prepared job (the caller holds whatever lock makes the
        checks below and this creation one step). job.json last: readers see the job only
        once it is complete. Returns its JobInfo."""
        config, job_id, name, target = prepared
        if not operator and any(s.owner == owner and s.active for s in statuses):
            raise OwnerBusy("you already have a job queued or running: stop it or wait for it to end")
        if self.versions.exists(name) or any(s.name == name and s.active for s in statuses):
            raise FileExistsError(f"{target} already exists; choose another name")
        job_dir = self.path(job_id)
        job_dir.mkdir()
        info = JobInfo(id=job_id, name=name, owner=owner, config=config, model_dir=str(target),
                       job_dir=str(job_dir), submitted=time.time(), cpus=cpus)
        try:
            self.write(job_id, JOB_FILE, info.to_json())
        except BaseException:  # a full disk, say: no half-made job
            self.forget(job_id)
            raise
        return info

    def preview(self, job_id):
        """The latest preview: z (2000, 2) float32, labels uint8, manifold uint8, epoch int,
        extent float; None before the first epoch ends."""
        path = self.path(job_id) / PREVIEW_FILE
        if not path.exists():
            return None
        with np.load(path) as npz:
            out = {k: npz[k] for k in npz.files}
        out["epoch"], out["extent"] = int(out["epoch"]), float(out["extent"])
        return out

    def speed(self, arch, statuses):
        """What estimates are made from: this runner's finished jobs of `arch`, else the
        versions' metadata, naming where it was measured."""
        return estimates.measured_speed(statuses, arch, lambda: estimates.speed_from_versions(self._versions(), arch))

    def _versions(self):
        """(name, metadata) of the sound versions: a damaged one says nothing about speed."""
        return [(e.name, e.metadata) for e in self.versions.entries() if e.metadata and not e.damage]

    def saved_metrics(self, name):
        """The metrics of the version `name` if it was saved (a stop that came after the save), else None."""
        try:
            if not self.versions.exists(name):
                return None
            self.versions.refresh()
            entry = self.versions.entry(name)
        except OSError:  # the store cannot be reached: nothing is known to be saved
            return None
        return (entry.metadata or {}).get("metrics", {}) if entry is not None else {}

    def fill_queue(self, statuses, slots):
        """Each queued job's place (1-based) and expected start, with `slots` jobs at a time."""
        queued = [s for s in statuses if s.state == "queued"]
        if not queued:
            return statuses
        running = [s for s in statuses if s.state == "running"]
        speeds = {}

        def speed(s):
            if s.config.arch not in speeds:
                speeds[s.config.arch] = self.speed(s.config.arch, statuses)
            return speeds[s.config.arch]

        left = [estimates.remaining_seconds(s, speed(s)) for s in running]
        durations = [estimates.estimate_seconds(s.config, speed(s)) for s in queued]
        for place, (s, start) in enumerate(zip(queued, estimates.start_times(left, durations, slots)), 1):
            s.position, s.start_eta = place, start
        return statuses


def models_location(models_dir=None):
    """A runner's models location: the one given (a folder or an s3:// URL), else the setting's."""
    location = settings.models_location() if models_dir is None else models_dir
    return location if settings.is_object_store(location) else Path(location)
