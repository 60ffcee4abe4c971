"""nginx in front of VAE Explorer's replicas: the site configuration, and a private nginx running it.

  python -m deploy.nginx [--listen 80] [--replica HOST:PORT ...] [--access-log PATH] > site.conf

prints deploy/nginx-site.conf.in filled in. deploy/vae-explorer.conf is its output for the
defaults, two replicas on 127.0.0.1:8501 and :8502 behind port 80 (tests/test_deploy.py checks it
is current).

`Nginx` runs a site in an nginx of its own: its prefix, configuration, pid, logs and temporary
files in one folder, on an unprivileged port of 127.0.0.1, in the foreground (so it is stopped by
its pid). The replica tests and bench/load.py put replicas behind it so.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

TEMPLATE = Path(__file__).with_name("nginx-site.conf.in")
SHIPPED = Path(__file__).with_name("vae-explorer.conf")
DEFAULT_REPLICAS = ("127.0.0.1:8501", "127.0.0.1:8502")
DEFAULT_ACCESS_LOG = "/var/log/nginx/vae-explorer.access.log"
MAX_FAILS, FAIL_TIMEOUT = 1, "10s"  # passive health: one refused connection skips a replica 10 s
REPLICA_HEADER = "X-VAE-Replica"
ROUTE_COOKIE = "vae_route"

MAIN = """# A private nginx: everything it writes is under {prefix}
worker_processes 1;
{user}pid {prefix}/nginx.pid;
error_log {prefix}/error.log notice;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {prefix}/site.conf;
}}
"""


def render_site(replicas=DEFAULT_REPLICAS, listen="80", access_log=DEFAULT_ACCESS_LOG):
    """The site configuration for `replicas` (HOST:PORT each), served on `listen`."""
    servers = "\n".join(f"    server {replica} max_fails={MAX_FAILS} fail_timeout={FAIL_TIMEOUT};"
                        for replica in replicas)
    return (TEMPLATE.read_text().replace("@SERVERS@", servers).replace("@LISTEN@", str(listen))
            .replace("@ACCESS_LOG@", str(access_log)))


def nginx_binary(install=False):
    """The nginx program; with `install`, Debian's package is installed first when there is none
    (apt-get, as root)."""
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if found or not install:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, capture_output=True, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-q", "nginx"], check=True, env=env, capture_output=True, timeout=600)
    return shutil.which("nginx") or "/usr/sbin/nginx"


class Nginx:
    """nginx serving the site for `replicas` on 127.0.0.1:`port`, all its files in `folder`."""

    def __init__(self, folder, replicas, port, binary=None):
        self.prefix = Path(folder).resolve()
        self.replicas, self.port = list(replicas), port
        self.binary = binary or nginx_binary()
        self.url = f"http://127.0.0.1:{port}"
        self.access_log = self.prefix / "access.log"
        self.error_log = self.prefix / "error.log"
        self.proc = None

    def check(self):
        """Write the configuration and have nginx test it (`nginx -t`); returns what nginx said."""
        if not self.binary:
            raise RuntimeError("nginx is not installed (Debian: apt-get install -y nginx)")
        (self.prefix / "tmp").mkdir(parents=True, exist_ok=True)
        # as root, nginx's workers would run as nobody, who may not enter a private temporary folder
        user = "user root;\n" if os.geteuid() == 0 else ""
        (self.prefix / "site.conf").write_text(
            render_site(self.replicas, f"127.0.0.1:{self.port}", self.access_log))
        (self.prefix / "nginx.conf").write_text(MAIN.format(prefix=self.prefix, user=user))
        checked = subprocess.run(self._command() + ["-t"], capture_output=True, text=True, timeout=60)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx refused its configuration:\n{checked.stderr}")
        return checked.stderr

    def _command(self):
        return [self.binary, "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf"), "-e", str(self.error_log)]

    def start(self, timeout=30):
        self.check()
        self.proc = subprocess.Popen(self._command() + ["-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.proc.returncode}:\n{self.errors()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"nginx did not listen on {self.port} within {timeout} s:\n{self.errors()}")
                time.sleep(0.1)

    def stop(self):
        """Stop nginx and its worker (they share its process group, which it leads)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # nginx's fast shutdown
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)

    def errors(self):
        return self.error_log.read_text(errors="replace")[-3000:] if self.error_log.exists() else ""

    def requests(self):
        """The access log's lines as dicts: request, status, route (the browser's), replica."""
        out = []
        if not self.access_log.exists():
            return out
        for line in self.access_log.read_text(errors="replace").splitlines():
            found = re.search(r'"(?P<request>[^"]*)" (?P<status>\d+) \d+ route=(?P<route>\S*) '
                              r'replica=(?P<replica>.*) time=', line)
            if found:
                out.append(found.groupdict())
        return out


def main(argv=None):
    parser = argparse.ArgumentParser(description="Print the nginx site configuration for VAE Explorer's replicas.")
    parser.add_argument("--listen", default="80", help="what nginx listens on: a port, or ADDRESS:PORT")
    parser.add_argument("--replica", action="append", metavar="HOST:PORT",
                        help="a replica's address (repeat for each); default: 127.0.0.1:8501 and :8502")
    parser.add_argument("--access-log", default=DEFAULT_ACCESS_LOG)
    args = parser.parse_args(argv)
    print(render_site(args.replica or DEFAULT_REPLICAS, args.listen, args.access_log), end="")


if __name__ == "__main__":
    main()
