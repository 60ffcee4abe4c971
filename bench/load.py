"""Many users at once, at Streamlit's own protocol level (no browsers). Prints JSON.

Starts `streamlit run app.py` on a free port of 127.0.0.1 (the repo's .streamlit/config.toml
applies), with VAE_MODELS_DIR set to a temporary copy of models/reference, so that the training
run writes nowhere in the repo. Every user is one websocket session driven by
bench/streamlit_client.py, which sends the `rerun_script` BackMsgs a browser sends and reads the
ForwardMsgs it gets back. Widget ids are taken from the element protos the server sent.

What a user does (each step is one interaction: one rerun BackMsg, answered when its
script_finished arrives; a widget inside a fragment sends a fragment rerun, as the page does):
  open          the first rerun of a new session: the whole page, the Latent pad tab
  pad_have      the pad confirms it holds the model (the page sends this by itself)
  commit        one kept pad point; 10 one after another, each sent when the previous was answered
  tab           a click on the Draw (or Train, or Latent pad) tab: a full rerun
  draw          one digit on the canvas (a PNG of a random stroke, as streamlit-drawable-canvas
                sends it); answered when the Draw view is sent the stroke's z (the page decodes
                the rest, so no images are fetched)
  train_*       one user: the Train tab, 600 images, 1 epoch, Start
  train_poll    that user's page then reruns the training fragment every second (run_every),
                until the job has finished
After each answer a user pauses --think-ms (300 ms, times 0.5 to 1.5 at random), as a person
does between two clicks; --think-ms 0 sends each step the moment the previous one is answered.

Phases of the default run:
  warm-up   one session opens the pad and draws a digit, then leaves: TensorFlow and the model
            are loaded once, as on a server somebody already visited (its times: "warmup"); with
            several replicas, one such session on each
  ramp      users 1, then 2-10, then 11-20 arrive; each wave's users do their steps at the same
            time, earlier users stay connected. The server's RSS is read when each wave is done
            and the server idle: "at 1, 10 and 20 sessions"
  burst     all 20 connected users at once: back to the pad, 10 more commits, the Draw tab and
            another digit; user 1 instead starts the quick training run and watches it. This
            phase is the "20 concurrent users" latency
  leave     every websocket closes; RSS right after, and after the disconnected-session TTL
            (Streamlit keeps a closed session 120 s for a reconnect; an expired one is dropped
            when the session store is next written, so one short probe session connects then)

Answered: script_finished arrived within --timeout and the server's state shows the step
(a commit: the pad's trail grew by one, ends at that point, and the URL's z= is that point;
draw: the Draw view is sent the stroke's z; open: the pad element; train_start: the job's status).
Lost: anything else; a user whose steps stopped on an error, or at a phase's time limit, adds
one lost "aborted". Latency: BackMsg sent → script_finished received, on this client. The
figures: nearest-rank p50/p95 over every interaction of the ramp and burst phases (train_poll
included), and per kind.

CPU: the machine may be shared. Each phase reports the machine's busy time, the server's, its
trainer's, this client's, and what other programs took (all in % of one core), so a slow answer
can be told from a starved server; --nice -10 (root) raises the server's and the client's
priority, their CFS autogroup's included, towards having the cores to themselves.

--soak-seconds N then repeats the same load with new users for N seconds: rounds of 20 new
sessions that open the pad, commit 10 points, draw and leave; one of them then goes to the Train
tab and clicks Start if it is enabled (a running job disables it) and watches the job while the
others of its round are busy. RSS is sampled every second; the report gives it after the first
minute, every 30 s, and at the end. Closed sessions stay in Streamlit's reconnect store for
server.disconnectedSessionTTL (120 s, at most 128 sessions), so the store fills during the first
two minutes.

Several replicas: --replicas N starts N servers behind nginx (deploy/nginx.py, Debian's nginx, a
private instance on a free port), and the users connect to nginx, each keeping the route cookie it
gets (a browser's affinity). --store s3 puts the models in an object store: moto's S3 server
(`python -m moto.server`, a process of its own on 127.0.0.1) with a fresh bucket, each replica
with its own cache and job folder, as on machines of their own. --compare-replicas M first runs
the same load on M replicas (same store, same proxy), then on N, and reports both and N's p95
against M's: the same-run baseline. RSS and CPU are then the replicas' sums.

All loops are bounded in count and time; only 127.0.0.1 is contacted.

Usage: python bench/load.py [--sessions 20] [--points 10] [--think-ms 300] [--soak-seconds 0]
                            [--nice -10] [--option runner.postScriptGC=false]
                            [--replicas 1] [--store local|s3] [--nginx] [--compare-replicas M]
  e.g. python bench/load.py --sessions 40 --store s3 --replicas 2 --compare-replicas 1 --ttl-wait 0
"""
import argparse
import asyncio
import collections
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.app_server import Server, set_priority  # noqa: E402
from bench.users import ABORTED, Stats, User, gather_bounded  # noqa: E402
from harness.server import free_port  # noqa: E402

MB = 1024 * 1024


# -- the servers (one is bench/app_server.py's) ----------------------------------------------
class ObjectStore:
    """moto's S3 server in a process of its own on 127.0.0.1, with one fresh bucket: `url`, `env`."""

    def __init__(self, workdir, startup_timeout=60):
        port = free_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        # fake credentials for the fake store, in the environment of this run's processes only
        self.env = {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                    "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull,
                    "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
        log = (Path(workdir) / "moto.log").open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                     env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=2).read()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto's S3 server did not start")
                time.sleep(0.2)
        request = urllib.request.Request(self.endpoint + "/vae-bench", method="PUT")  # create the bucket
        urllib.request.urlopen(request, timeout=10).read()
        self.url = "s3://vae-bench/models"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class Replicas:
    """N servers, behind nginx when asked (always for N > 1), over one store: the Server interface
    (url, rss, cpu_seconds, children, log, stop) summed over the replicas."""

    def __init__(self, workdir, replicas=1, store=None, via_nginx=False, nice=0, options=()):
        self.servers, self.proxy = [], None
        try:
            for i in range(replicas):
                env = {**store.env, "VAE_MODELS_DIR": store.url,
                       "VAE_CACHE_DIR": str(Path(workdir) / f"replica-{i + 1}" / "cache")} if store else None
                self.servers.append(Server(Path(workdir) / f"replica-{i + 1}" if replicas > 1 or store else workdir,
                                           nice=nice, options=options, env=env))
            if via_nginx or replicas > 1:
                from deploy.nginx import Nginx
                self.proxy = Nginx(Path(workdir) / "nginx", [srv.url.removeprefix("http://") for srv in self.servers],
                                   free_port()).start()
                if nice:  # the proxy carries every request: it gets the servers' priority
                    for proc in [psutil.Process(self.proxy.proc.pid)] + psutil.Process(self.proxy.proc.pid).children():
                        set_priority(proc.pid, nice)
        except BaseException:
            self.stop()
            raise
        self.url = self.proxy.url if self.proxy else self.servers[0].url
        self.replica_urls = [srv.url for srv in self.servers]
        self.models = self.servers[0].models

    def rss(self):
        return sum(srv.rss() for srv in self.servers)

    def cpu_seconds(self):
        return sum(srv.cpu_seconds() for srv in self.servers)

    def children(self):
        return [kid for srv in self.servers for kid in srv.children()]

    def log(self):
        return "\n".join(srv.log() for srv in self.servers)

    def spread(self):
        """Requests per replica, from nginx's log (the WebSockets among them: one per session)."""
        if self.proxy is None:
            return None
        out = {}
        for r in self.proxy.requests():
            key = r["replica"].split(",")[-1].strip()
            out.setdefault(key, {"requests": 0, "websockets": 0})
            out[key]["requests"] += 1
            out[key]["websockets"] += "/_stcore/stream" in r["request"]
        return out

    def stop(self):
        if self.proxy is not None:
            self.proxy.stop()
        for srv in self.servers:
            srv.stop()


class RssMonitor(threading.Thread):
    """Samples the server's RSS (and its trainer's) every `period` s, for at most `max_s`."""

    def __init__(self, server, period=1.0, max_s=7200):
        super().__init__(daemon=True)
        self.server, self.period, self.max_s = server, period, max_s
        self.samples = []  # (monotonic t, server rss, trainer rss)
        self.stopped = threading.Event()

    def run(self):
        end = time.monotonic() + self.max_s
        while not self.stopped.is_set() and time.monotonic() < end:
            try:
                kids = sum(k.memory_info().rss for k in self.server.children())
                self.samples.append((time.monotonic(), self.server.rss(), kids))
            except psutil.Error:
                break
            self.stopped.wait(self.period)

    def at(self, t):
        """The sample nearest to monotonic time t."""
        return min(self.samples, key=lambda s: abs(s[0] - t)) if self.samples else None


class CpuMeter:
    """CPU seconds over a phase: the machine's (all cores), the server's, its trainer's, this client's.

    The machine is shared: what other programs take is busy - server - trainer - client, and it
    is reported, because it lengthens every answer."""

    def __init__(self, server):
        self.server, self.client = server, psutil.Process()
        self.start = self.snapshot()

    def snapshot(self):
        t = psutil.cpu_times()
        busy = sum(t) - t.idle - getattr(t, "iowait", 0.0)
        trainer = 0.0
        for kid in self.server.children():
            try:
                c = kid.cpu_times()
                trainer += c.user + c.system
            except psutil.Error:
                pass
        c = self.client.cpu_times()
        return {"t": time.monotonic(), "busy": busy, "server": self.server.cpu_seconds(), "trainer": trainer,
                "client": c.user + c.system, "load": os.getloadavg()[0]}

    def report(self):
        end = self.snapshot()
        wall = end["t"] - self.start["t"]
        pct = lambda k: round(100 * max(0.0, end[k] - self.start[k]) / wall)  # noqa: E731 (of one core)
        trainer = pct("trainer") if end["trainer"] >= self.start["trainer"] else None  # None: it ended
        out = {"wall_s": round(wall, 1), "machine_busy_percent_of_one_core": pct("busy"),
               "cores": psutil.cpu_count(), "server_percent": pct("server"), "trainer_percent": trainer,
               "client_percent": pct("client"), "load_average_1min": [round(self.start["load"], 1),
                                                                       round(end["load"], 1)]}
        out["other_programs_percent"] = max(0, out["machine_busy_percent_of_one_core"] - out["server_percent"]
                                            - (trainer or 0) - out["client_percent"])
        return out


# -- phases ---------------------------------------------------------------------------------
async def settle(server, seconds=3.0):
    """Wait until the server is idle: its CPU under 5% for a second, at most `seconds` + 15 s."""
    await asyncio.sleep(1.0)
    deadline = time.monotonic() + seconds + 15
    while time.monotonic() < deadline:
        before = server.cpu_seconds()
        await asyncio.sleep(1.0)
        if server.cpu_seconds() - before < 0.05:
            break
    await asyncio.sleep(max(0.0, seconds - 1.0))


def mb(x):
    return round(x / MB, 1)


async def main_run(server, args, stats, monitor):
    make = lambda i, phase: User(server.url, i, stats, phase, args.timeout, args.think_ms / 1000, args.seed * 1000 + i)  # noqa: E731
    report = {"rss_mb": {"before_any_session": mb(server.rss())}}

    # warm-up: TensorFlow and the model, once per replica (each reached directly, not through
    # nginx); not counted in the figures
    warm = [User(url, 0, stats, "warmup", args.timeout, args.think_ms / 1000, args.seed * 1000)
            for url in server.replica_urls]
    for w in warm:
        w.points = 1
    await gather_bounded([w.session_script() for w in warm], 300, stats, "warmup")
    await asyncio.gather(*(w.s.close() for w in warm))
    await settle(server)
    report["rss_mb"]["after_warmup_left"] = mb(server.rss())

    users = []
    cpu = CpuMeter(server)
    middle = max(0, args.sessions // 2 - 1)  # 1, 9, 10 for 20 users
    waves = [w for w in (1, middle, args.sessions - 1 - middle) if w > 0]
    for size in waves:
        wave = [make(len(users) + i + 1, "ramp") for i in range(size)]
        for u in wave:
            u.points = args.points
        users += wave
        await gather_bounded([u.session_script() for u in wave], args.phase_limit, stats, "ramp")
        await settle(server)
        report["rss_mb"][f"at_{len(users)}_sessions"] = mb(server.rss())
    report["ramp_cpu"] = cpu.report()

    # burst: all users at once; user 1 starts the training run and watches it
    for u in users:
        u.phase = "burst"
    cpu = CpuMeter(server)
    trainer = asyncio.ensure_future(users[0].train(args.train_watch))
    await gather_bounded([u.session_script(first_round=False) for u in users[1:]], args.phase_limit, stats, "burst")
    report["burst_cpu"] = cpu.report()
    n_burst = sum(1 for r in stats.records if r["phase"] == "burst")
    report["burst_server_cpu_ms_per_interaction"] = round(
        1000 * (cpu.snapshot()["server"] - cpu.start["server"]) / max(1, n_burst), 1)
    (report["training"],) = await gather_bounded([trainer], args.train_watch + 60, stats, "burst")
    await settle(server)
    report["rss_mb"][f"at_{len(users)}_sessions_after_burst"] = mb(server.rss())
    report["media"] = {k: sum(u.media[k] for u in users + warm) for k in ("fetched", "failed")}

    # leave
    await asyncio.gather(*(u.s.close() for u in users))
    await settle(server)
    report["rss_mb"]["after_all_left"] = mb(server.rss())
    if args.ttl_wait > 0:
        await asyncio.sleep(args.ttl_wait)
        probe = make(999, "probe")  # writes the session store, which drops the expired sessions
        probe.points = 0
        await gather_bounded([probe.open()], 60, stats, "probe")
        await probe.s.close()
        await settle(server)
        report["rss_mb"][f"after_all_left_{args.ttl_wait:.0f}s_later"] = mb(server.rss())
    r = report["rss_mb"]
    n = len(users)
    report["mb_per_extra_session"] = round((r[f"at_{n}_sessions"] - r["at_1_sessions"]) / (n - 1), 2)
    report["mb_per_extra_session_after_burst"] = round(
        (r[f"at_{n}_sessions_after_burst"] - r["at_1_sessions"]) / (n - 1), 2)
    return report


async def soak(server, args, stats, monitor):
    t0 = time.monotonic()
    cpu = CpuMeter(server)
    end = t0 + args.soak_seconds
    rounds, trainings, index = 0, [], 10_000
    while time.monotonic() < end - 5 and rounds < 10_000:
        users = []
        for i in range(args.sessions):
            index += 1
            u = User(server.url, index, stats, "soak", args.timeout, args.think_ms / 1000, args.seed * 1000 + index)
            u.points = args.points
            users.append(u)

        others_done = asyncio.Event()

        async def trainer_script(u):  # watches the job only while the others of its round are busy
            await u.session_script()
            return await u.train(poll_limit_s=args.train_watch, stop=others_done)

        async def others():
            await gather_bounded([u.session_script() for u in users[1:]], limit, stats, "soak")
            others_done.set()

        limit = max(30.0, min(args.phase_limit, end - time.monotonic() + 60))
        results = await gather_bounded([trainer_script(users[0]), others()], limit + 10, stats, "soak")
        if results[0]:
            trainings.append(results[0])
        await asyncio.gather(*(u.s.close() for u in users))
        rounds += 1
    soak_end = time.monotonic()
    await settle(server)
    samples = [s for s in monitor.samples if t0 <= s[0] <= soak_end]
    one_min = monitor.at(t0 + 60)
    last = samples[-1] if samples else None
    report = {"seconds": round(soak_end - t0), "rounds": rounds, "sessions": rounds * args.sessions,
              "training_runs_started": sum(1 for t in trainings if t.get("started")),
              "rounds_with_a_job_already_running": sum(1 for t in trainings if t.get("start_disabled_job_running")),
              "training_watch_outcomes": dict(collections.Counter(t.get("outcome") for t in trainings))}
    if one_min and last:
        report["rss_mb"] = {
            "at_1_min": mb(one_min[1]), "at_end": mb(last[1]),
            "max": mb(max(s[1] for s in samples)),
            "every_30_s": [mb(monitor.at(t0 + k)[1]) for k in range(0, int(soak_end - t0) + 1, 30)],
            "after_soak_left": mb(server.rss())}
        report["end_vs_1_min_percent"] = round(100 * (last[1] / one_min[1] - 1), 1)
    report["cpu"] = cpu.report()
    report["latency"] = stats.summary({"soak"})
    report["latency_by_kind"] = stats.by_kind({"soak"})
    return report


async def amain(args):
    if not args.compare_replicas:
        return await run_setup(args, args.replicas)
    baseline = await run_setup(args, args.compare_replicas)
    ABORTED.clear()
    out = await run_setup(args, args.replicas)
    p95 = lambda o: o["main"]["interactions"].get("p95_s")  # noqa: E731
    burst = lambda o: o["main"][f"burst_{args.sessions}_concurrent"].get("p95_s")  # noqa: E731
    return {"baseline": baseline, "compared": out,
            "p95_ratio_vs_baseline": round(p95(out) / p95(baseline), 2) if p95(out) and p95(baseline) else None,
            "burst_p95_ratio_vs_baseline": round(burst(out) / burst(baseline), 2)
            if burst(out) and burst(baseline) else None}


async def run_setup(args, replicas):
    with tempfile.TemporaryDirectory(prefix="vae-load-") as workdir:
        store = ObjectStore(workdir) if args.store == "s3" else None
        if store is not None and args.nice:
            set_priority(store.proc.pid, args.nice)
        try:
            # compared setups are all behind nginx, so that only the number of replicas differs
            server = Replicas(workdir, replicas, store, via_nginx=args.nginx or bool(args.compare_replicas),
                              nice=args.nice, options=args.option)
        except BaseException:
            if store is not None:
                store.stop()
            raise
        # this client's autogroup is its terminal session's: given back at the end
        group_nice = set_priority(os.getpid(), args.nice) if args.nice else None
        monitor = RssMonitor(server)
        monitor.start()
        stats = Stats()
        proc = psutil.Process()
        client_cpu0, wall0 = sum(proc.cpu_times()[:2]), time.monotonic()
        out = {"sessions": args.sessions, "points_per_session": args.points, "think_ms": args.think_ms,
               "timeout_s": args.timeout, "cpus": os.cpu_count(), "nice": args.nice, "options": args.option,
               "server": server.url, "replicas": replicas, "store": args.store,
               "nginx": server.proxy is not None}
        try:
            out["main"] = report = await main_run(server, args, stats, monitor)
            phases = {"ramp", "burst"}
            report["interactions"] = stats.summary(phases)
            report[f"burst_{args.sessions}_concurrent"] = stats.summary({"burst"})
            report["by_kind"] = stats.by_kind(phases)
            report["warmup"] = stats.summary({"warmup"})
            if args.soak_seconds > 0:
                out["soak"] = await soak(server, args, stats, monitor)
        finally:
            monitor.stopped.set()
            if group_nice is not None:
                Path("/proc/self/autogroup").write_text(str(group_nice))
            out["client_cpu_percent"] = round(100 * (sum(proc.cpu_times()[:2]) - client_cpu0)
                                              / (time.monotonic() - wall0), 1)
            if server.proxy is not None:
                out["requests_per_replica"] = server.spread()
            server.stop()
            if store is not None:
                store.stop()
            errors = [line for line in server.log().splitlines() if "Traceback" in line or "ERROR" in line]
            out["server_log_errors"] = errors[:10]
        m = out["main"]
        g = {"lost_0": m["interactions"]["lost"] == 0,
             "p95_le_1s": m["interactions"].get("p95_s", 99) <= 1.0,
             "p95_le_1s_burst": m[f"burst_{args.sessions}_concurrent"].get("p95_s", 99) <= 1.0,
             "mb_per_extra_session_le_30": m["mb_per_extra_session"] <= 30}
        if "soak" in out and "end_vs_1_min_percent" in out["soak"]:
            g["soak_rss_within_10_percent"] = abs(out["soak"]["end_vs_1_min_percent"]) <= 10
            g["soak_lost_0"] = out["soak"]["latency"]["lost"] == 0
        out["goals_met"] = g
        return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--points", type=int, default=10, help="pad points each user commits")
    parser.add_argument("--think-ms", type=float, default=300,
                        help="a user's pause after an answer before the next step (0.5x-1.5x, random)")
    parser.add_argument("--timeout", type=float, default=30, help="an interaction unanswered this long is lost")
    parser.add_argument("--train-watch", type=float, default=240, help="how long the training user watches")
    parser.add_argument("--phase-limit", type=float, default=600, help="upper bound of one phase, s")
    parser.add_argument("--ttl-wait", type=float, default=125,
                        help="after everyone left, wait this long (server.disconnectedSessionTTL is 120 s); 0: skip")
    parser.add_argument("--soak-seconds", type=float, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--nice", type=int, default=0,
                        help="niceness of the server (its trainer inherits it) and of this client; on a machine "
                             "shared with other work, -10 (root) gives them the cores they would have alone")
    parser.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                        help="a Streamlit option for the server, e.g. runner.postScriptGC=false (repeatable)")
    parser.add_argument("--replicas", type=int, default=1,
                        help="servers behind nginx (more than 1 implies --nginx)")
    parser.add_argument("--store", choices=("local", "s3"), default="local",
                        help="local: a models folder; s3: moto's S3 server on 127.0.0.1, one bucket")
    parser.add_argument("--nginx", action="store_true", help="put nginx in front even of one replica")
    parser.add_argument("--compare-replicas", type=int, default=0, metavar="M",
                        help="first run the same load on M replicas (same store and proxy), as the baseline")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    if args.sessions < 3:
        parser.error("--sessions must be at least 3")
    out = asyncio.run(amain(args))
    text = json.dumps(out, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
