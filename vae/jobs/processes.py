"""The trainer as an operating-system process: spawning it, and telling whether it still runs.

Liveness uses psutil (portable, and it knows zombies and creation times) rather than
reading /proc by hand. A pid alone is not enough: after the trainer exits the kernel may
give its pid to another process, so a job records the process' creation time too.
"""
import os
import signal
import subprocess
import sys

import psutil

from vae.settings import REPO_ROOT

_CHILDREN = {}  # pid -> Popen this process started: exit codes, and reaping the zombie


def creation_time(pid):
    """When `pid` was created (seconds since the epoch), or None if there is no such process."""
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def pid_alive(pid, created=None):
    """Is the process `pid`, created at `created` (if known), running and not a zombie?"""
    if not isinstance(created, (int, float)):
        created = None  # a job.json from before psutil held /proc clock ticks: not comparable
    try:
        proc = psutil.Process(pid)
        if created is not None and abs(proc.create_time() - created) > 0.01:
            return False  # the pid now belongs to a later process
        return proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True  # it exists, owned by someone else


def spawn_trainer(job_dir):
    """A fresh interpreter running `python -m vae.trainer JOB_DIR`.

    Not multiprocessing's "spawn": it re-runs the parent's __main__ in the child, and
    inside Streamlit that is app.py, which cannot run outside a Streamlit server.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.Popen([sys.executable, "-m", "vae.trainer", str(job_dir)], cwd=REPO_ROOT, env=env,
                            stdin=subprocess.DEVNULL, close_fds=True)
    _CHILDREN[proc.pid] = proc
    return proc


def kill(pid, created):
    """SIGKILL the trainer `pid` if it is still the process created at `created`; wait for it
    (our own child) so that it is gone, not a zombie, when this returns."""
    if not pid_alive(pid, created):
        return False
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    proc = _CHILDREN.get(pid)
    if proc is not None:
        proc.wait()
    else:
        try:
            psutil.Process(pid).wait(timeout=10)
        except (psutil.Error, psutil.TimeoutExpired):
            pass
    return True


def process_state(pid, created):
    """(alive, exit code or None). The exit code is known only for our own children;
    a trainer started by an earlier server process (adopted after a restart) has none."""
    proc = _CHILDREN.get(pid)
    if proc is not None:
        code = proc.poll()  # waitpid: the finished child does not linger as a zombie
        return code is None, code
    return pid_alive(pid, created), None
