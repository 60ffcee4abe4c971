"""`streamlit run app.py` on a free port of 127.0.0.1 for a bench, over a temporary copy of
models/reference (or the store `env` names), with its CPU time, memory and priority at hand.
bench/load.py and bench/classroom.py run their users against it."""
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from harness.server import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]


def set_priority(pid, nice):
    """The niceness of a process and of its CFS autogroup; returns the group's old niceness.
    With autogroups (Linux's default) every session's group gets an equal share whatever its
    processes' niceness: the group's own niceness is what weighs against other programs."""
    psutil.Process(pid).nice(nice)
    path = Path(f"/proc/{pid}/autogroup")
    try:
        old = int(path.read_text().split("nice")[1])
        path.write_text(str(nice))
        return old
    except (OSError, IndexError, ValueError):
        return None  # no autogroups here: the niceness alone counts


class Server:
    """`streamlit run app.py` on 127.0.0.1, its models folder a temporary copy of models/reference
    (unless `env` names another store)."""

    def __init__(self, workdir, startup_timeout=120, nice=0, options=(), env=None):
        Path(workdir).mkdir(parents=True, exist_ok=True)
        self.models = Path(workdir) / "models"
        self.models.mkdir()
        shutil.copytree(REPO_ROOT / "models" / "reference", self.models / "reference")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(workdir) / "streamlit.log"
        env = {**os.environ, "VAE_MODELS_DIR": str(self.models), "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             *(arg for option in options for arg in ("--" + option.split("=", 1)[0], option.split("=", 1)[1]))],
            cwd=REPO_ROOT, env=env, stdout=self.log_path.open("w"), stderr=subprocess.STDOUT,
            start_new_session=True)
        self.ps = psutil.Process(self.proc.pid)
        if nice:  # the trainer it spawns inherits this
            set_priority(self.proc.pid, nice)
        deadline = time.monotonic() + startup_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                if urllib.request.urlopen(self.url + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"streamlit did not answer within {startup_timeout} s")
            time.sleep(0.2)

    def log(self):
        return self.log_path.read_text(errors="replace")

    def rss(self):
        return self.ps.memory_info().rss

    def cpu_seconds(self):
        t = self.ps.cpu_times()
        return t.user + t.system

    def children(self):
        try:
            return self.ps.children(recursive=True)
        except psutil.Error:
            return []

    def stop(self):
        """Ends the server and the trainer it spawned (both in the process group it leads)."""
        kids = self.children()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for kid in kids:
            try:
                kid.kill()
            except psutil.Error:
                pass
