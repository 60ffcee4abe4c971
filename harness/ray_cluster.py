"""A real Ray cluster on this machine for tests and benchmarks (not a test file).

Started as docs/deployment.md says (`ray start --head --num-cpus 2`, the dashboard and its Jobs API on
127.0.0.1; workers with `ray start --address=HEAD:PORT`), but kept to itself: its own temporary
folder, its own ports and its own process groups, so that stopping it ends exactly its
processes, and two test runs on one machine do not stop each other's. (`ray stop` would end
every Ray process on the machine.)
"""
import os
import sys
from pathlib import Path

from harness.server import free_port


class RayCluster:
    """A real Ray cluster on this machine, started as docs/deployment.md says (`ray start --head
    --num-cpus 2`, the dashboard and its Jobs API on 127.0.0.1), but kept to itself: its own
    temporary folder, its own ports and its own process group, so that it is stopped by
    ending exactly its processes. (`ray stop` would end every Ray process on the machine,
    another test run's included.)"""

    def __init__(self, venv_on_path=True):
        """`venv_on_path=False` starts it as a newcomer might, `.venv/bin/ray start` with the
        venv's bin not on PATH: jobs then run with whatever `python` PATH finds first."""
        import random
        import secrets
        self.ray = Path(sys.executable).parent / "ray"
        assert self.ray.exists(), ("ray is not installed: pip install -r requirements-dev.txt "
                                   "(it includes requirements-cluster.txt)")
        # Ray runs the trainer with the `python` on its PATH: this environment's
        path = os.environ.get("PATH", "")
        if venv_on_path:
            path = os.pathsep.join([str(self.ray.parent), path])
        else:
            path = os.pathsep.join(p for p in path.split(os.pathsep) if Path(p) != self.ray.parent)
        self.env = {**os.environ, "PATH": path, "RAY_USAGE_STATS_ENABLED": "0"}
        self.temp_dir = Path("/tmp") / f"rv-{secrets.token_hex(3)}"  # short: Ray's socket paths must fit
        self.dashboard, self.gcs = free_port(), free_port()
        self.address = f"http://127.0.0.1:{self.dashboard}"
        # Workers' ports come from a range below the kernel's ephemeral ports, which is where
        # free_port() and Ray's own random ports come from: the two can never collide.
        ephemeral_from = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
        self.workers_from = random.randrange(11000, max(12000, ephemeral_from - 1000), 200)
        self.groups = []  # process groups of the `ray start`s, one per node

    def _node_ports(self, worker_ports):
        lo = self.workers_from + 100 * len(self.groups)
        return ["--node-manager-port", str(free_port()), "--object-manager-port", str(free_port()),
                "--dashboard-agent-listen-port", str(free_port()), "--dashboard-agent-grpc-port", str(free_port()),
                "--runtime-env-agent-port", str(free_port()), "--metrics-export-port", str(free_port()),
                "--min-worker-port", str(lo), "--max-worker-port", str(lo + worker_ports - 1)]

    def _ray_start(self, *args):
        import subprocess
        proc = subprocess.Popen([str(self.ray), "start", *args, "--disable-usage-stats",
                                 *self._node_ports(worker_ports=99)],
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its group holds every process of the node
        self.groups.append(proc.pid)
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0, out.decode(errors="replace")[-3000:]

    def start(self):
        import time
        self._ray_start("--head", "--num-cpus", "2", "--port", str(self.gcs), "--temp-dir", str(self.temp_dir),
                        "--dashboard-host", "127.0.0.1", "--dashboard-port", str(self.dashboard),
                        "--include-dashboard", "true", "--ray-client-server-port", str(free_port()))
        from ray.job_submission import JobSubmissionClient
        deadline = time.monotonic() + 120
        while True:  # the Jobs API answers some time after `ray start` returns
            try:
                JobSubmissionClient(self.address).list_jobs()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def add_worker(self, num_cpus=1):
        """A second node joining as docs/deployment.md says (`ray start --address=HEAD:PORT`): on this
        one machine it is a second raylet with its own CPUs. `stop` ends it with the head."""
        self._ray_start(f"--address=127.0.0.1:{self.gcs}", "--num-cpus", str(num_cpus))

    def _processes(self):
        """Every process of this cluster: in its nodes' process groups, or working in its
        temporary folder (a job's trainer runs in the uploaded working_dir, in a session of its own)."""
        import psutil
        found = []
        for proc in psutil.process_iter():
            try:
                if os.getpgid(proc.pid) in self.groups or str(self.temp_dir) in proc.cwd():
                    found.append(proc)
            except (psutil.Error, OSError):
                continue
        return found

    def stop(self):
        import shutil
        import psutil
        for _ in range(5):  # a dying node may still spawn a worker or two
            procs = self._processes()
            if not procs:
                break
            for proc in procs:
                try:
                    proc.kill()
                except psutil.Error:
                    pass
            psutil.wait_procs(procs, timeout=10)
        self.groups = []
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def restart(self):
        """The head gone and back at the same address, with an empty job table."""
        self.stop()
        self.start()
