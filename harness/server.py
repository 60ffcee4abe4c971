"""A real `streamlit run app.py` on 127.0.0.1 for tests, benches and docs: started, waited for
until its health check answers, and stopped; and a free port, and a checkout of another commit
to serve for a same-run baseline."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env_extra=None, startup_timeout=120, cwd=REPO_ROOT):
    """Start `streamlit run app.py` (from `cwd`) on 127.0.0.1; returns (process, url, log path)."""
    port = free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"vae-e2e-streamlit-{port}.log"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env_extra or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=cwd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + startup_timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                return proc, url, log
        except OSError:
            time.sleep(0.2)  # nothing in a browser to wait on yet: the server is not up
    proc.kill()
    raise RuntimeError(f"streamlit did not answer within {startup_timeout} s:\n{log.read_text()[-3000:]}")


def checkout(ref, into):
    """This repository's tree at git `ref` (models and data included), unpacked into `into`:
    start_server(cwd=...) then serves that version, for a same-run baseline in bench/."""
    archive = subprocess.run(["git", "-C", str(REPO_ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return Path(into)


def stop_server(proc):
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
