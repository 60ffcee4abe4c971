"""The users of a load bench, at Streamlit's protocol level (bench/streamlit_client.py): what one
browser tab sends (open, pad commits, a tab, a digit, a training run watched) and what counts as
answered, with the figures kept of each interaction. bench/load.py and bench/classroom.py drive them."""
import asyncio
import base64
import io
import math
import random
import time

from PIL import Image, ImageDraw

from bench.streamlit_client import Lost, StreamlitSession

TRAIN_LIMIT = 600  # a user's training run: 600 images, 1 epoch
TRAIN_EPOCHS = 1
DONE_WORDS = ("Saved as", "Training failed", "stopped and discarded", "cancelled before it started")


def canvas_value(rng):
    """What streamlit-drawable-canvas sends after a stroke: fabric objects and a PNG data URL."""
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    x0, y0 = rng.randint(90, 190), rng.randint(30, 70)
    points = [(x0 + rng.randint(-40, 40), y0 + i * 40 + rng.randint(-10, 10)) for i in range(6)]
    draw.line(points, fill=(0, 0, 0, 255), width=18, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    path = [["M", *points[0]]] + [["L", *p] for p in points[1:]]
    return {"drawing": {"raw": {"version": "5.3.0", "objects": [
        {"type": "path", "stroke": "#000000", "strokeWidth": 18, "fill": None, "path": path}]}, "data": url}}


def job_name(texts):
    """The version named in the "Your job" caption ("... · version “NAME”"), or None."""
    for text in texts:
        if "version “" in text:
            return text.split("version “", 1)[1].split("”", 1)[0]
    return None


def fmt_point(z):
    return ",".join(f"{v:.3f}" for v in z)


class Stats:
    def __init__(self):
        self.records = []  # dicts: phase, user, kind, seconds (None when lost), ok, why

    def add(self, **record):
        self.records.append(record)

    def summary(self, phases=None, kinds=None):
        rows = [r for r in self.records if (phases is None or r["phase"] in phases)
                and (kinds is None or r["kind"] in kinds)]
        answered = [r["seconds"] for r in rows if r["ok"]]
        lost = [r for r in rows if not r["ok"]]
        out = {"interactions": len(rows), "answered": len(answered), "lost": len(lost)}
        if answered:
            out.update(p50_s=round(percentile(answered, 50), 3), p95_s=round(percentile(answered, 95), 3),
                       max_s=round(max(answered), 3))
        if lost:
            reasons = {}
            for r in lost:
                reasons[f"{r['kind']}: {r['why']}"] = reasons.get(f"{r['kind']}: {r['why']}", 0) + 1
            out["lost_reasons"] = reasons
        return out

    def by_kind(self, phases=None):
        kinds = sorted({r["kind"] for r in self.records if phases is None or r["phase"] in phases})
        return {k: self.summary(phases, {k}) for k in kinds}


def percentile(values, q):
    """Nearest-rank percentile: the smallest value with at least q% of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


class User:
    """One browser tab of one user, and the steps a user takes."""

    def __init__(self, url, index, stats, phase, timeout, think_s, seed):
        self.index = index
        # the cookie that tells the server which training jobs are this browser's (vae/ui/browser_identity)
        self.token = f"bench-user-{seed:012d}-{index:06d}"
        self.s = StreamlitSession(url, timeout=timeout, name=f"user{index}", cookies={"vae_browser": self.token})
        self.stats, self.phase, self.think_s = stats, phase, think_s
        self.rng = random.Random(seed)
        self.trail = 0  # points the server should hold in this session's trail
        self.mount = None
        self.seq = 0
        self.media = {"fetched": 0, "failed": 0}
        self.points = 10
        self.pad_state = {}

    async def step(self, kind, check, **rerun):
        """One interaction: a rerun, then `check(run)` → None when the state shows it, else why."""
        try:
            seconds, run = await self.s.rerun(**rerun)
        except Lost as err:
            self.stats.add(phase=self.phase, user=self.index, kind=kind, seconds=None, ok=False, why=str(err))
            return None
        why = "exception on the page: " + run.exceptions[0][:120] if run.exceptions else check(run)
        self.stats.add(phase=self.phase, user=self.index, kind=kind, seconds=seconds, ok=why is None, why=why)
        return run if why is None else None

    async def think(self):
        if self.think_s > 0:
            await asyncio.sleep(self.think_s * self.rng.uniform(0.5, 1.5))

    async def open(self):
        await self.s.connect()
        run = await self.step("open", lambda run: None if "latent_pad" in self.s.components
                              else "no pad on the first page")
        if run is None:
            return False
        pad = self.s.components["latent_pad"]
        if "payload" in pad:  # the page now holds the model and says so, as pad.js does
            self.pad_state = {"have": pad["model"]}
            self.s.set_json("latent_pad", self.pad_state)
            await self.step("pad_have", lambda run: "the model data came again"
                            if "payload" in self.s.components["latent_pad"] else None,
                            fragment_id=self.s.fragment_of("latent_pad"))
        else:
            self.pad_state = {}
        return True

    async def tab(self, label):
        self.s.set_string("view", label)
        if label == "Latent pad":  # the first tab: the page drops ?view= from the URL
            self.s.set_query_param("view", None)
        else:
            self.s.set_query_param("view", label)
        want = {"Latent pad": "latent_pad", "Draw": "canvas_0", "Train": "train_start"}[label]
        self.s.widgets.pop(want, None)
        return await self.step("tab", lambda run: None if want in self.s.widgets
                               else f"the {label} tab did not render")

    async def commits(self, n):
        """n kept points, one after another; each must reach the trail and the URL."""
        if self.mount is None:  # a new pad mount: a new page id, its sequence numbers from 1
            self.mount, self.seq, self.history = f"u{self.index}-{self.rng.randrange(10**6)}", 0, []
        for _ in range(n):
            z = [round(self.rng.uniform(-3, 3), 3), round(self.rng.uniform(-3, 3), 3)]
            self.seq += 1
            self.history = (self.history + [[z[0], z[1], self.seq]])[-64:]
            self.s.set_json("latent_pad", {**self.pad_state, "commit": {
                "id": self.mount, "seq": self.seq, "points": self.history}})
            self.trail += 1
            expected_trail = min(self.trail, 200)

            def check(run, z=z, expected_trail=expected_trail):
                trail = self.s.components.get("latent_pad", {}).get("trail", [])
                if len(trail) != expected_trail or [round(v, 3) for v in trail[-1]] != z:
                    return f"trail {len(trail)} points, expected {expected_trail} ending at {z}"
                if self.s.query_param("z") != fmt_point(z):
                    return f"URL z={self.s.query_param('z')}, expected {fmt_point(z)}"
                return None

            await self.step("commit", check, fragment_id=self.s.fragment_of("latent_pad"))
            await self.think()

    async def draw(self):
        self.s.set_json("canvas_0", canvas_value(self.rng))
        self.s.components.pop("draw_view", None)  # answered: the Draw view is sent this stroke's z

        def encoded(run):
            shown = (self.s.components.get("draw_view") or {}).get("drawn") or {}
            return None if len(shown.get("z", [])) == 2 else "no encoding sent to the Draw view"

        run = await self.step("draw", encoded, fragment_id=self.s.fragment_of("canvas_0"))
        if run is not None:  # any images it shows, as a page loads them (none: the Draw view decodes in the page)
            for kind, element, _ in run.elements:
                if kind == "imgs":
                    for img in element.imgs.imgs:
                        await self.fetch_media(img.url)

    async def fetch_media(self, url):
        if not url.startswith("/"):
            return
        try:
            await asyncio.to_thread(lambda: self.s.get(url))
            self.media["fetched"] += 1
        except OSError:
            self.media["failed"] += 1

    async def session_script(self, first_round=True):
        """Open (first round), 10 commits, the Draw tab, one digit."""
        if first_round:
            if not await self.open():
                return
        else:
            if await self.tab("Latent pad") is None:
                return
            self.mount = None  # the pad was mounted again: a new page id
        await self.think()
        await self.commits(self.points)
        if await self.tab("Draw") is None:
            return
        await self.think()
        await self.draw()

    async def train(self, poll_limit_s, stop=None):
        """The Train tab, a quick config, Start; then watch the job as the page does (run_every)."""
        if await self.tab("Train") is None:
            return {"started": False}
        # A number input and a slider each rerun the page when changed, as in a browser.
        self.s.set_double("train_limit", TRAIN_LIMIT)
        await self.step("train_setting", lambda run: None)
        self.s.set_double_array("train_epochs@fast", [TRAIN_EPOCHS])
        await self.step("train_setting", lambda run: None)
        started = time.monotonic()
        if self.s.elements["train_start"].button.disabled:  # their own job runs: they can only watch it
            already, last, polls = True, " ".join(self.s.run.texts), 0
        else:
            before = job_name(self.s.run.texts)

            def check(run):
                text = " ".join(run.texts)
                if "Could not" in text or "not possible" in text or "One job at a time" in text:
                    return "refused: " + text[-160:]
                return None if job_name(run.texts) not in (None, before) else "no new job after Start"

            run = await self.step("train_start", check, triggers=["train_start"])
            if run is None:
                return {"started": False}
            last, polls, already = " ".join(run.texts), 0, False
        while time.monotonic() - started < poll_limit_s and self.s.auto_rerun and not (stop and stop.is_set()):
            fragment_id, interval = next(iter(self.s.auto_rerun.items()))
            await asyncio.sleep(interval)
            run = await self.step("train_poll", lambda run: None, fragment_id=fragment_id, is_auto_rerun=True)
            polls += 1
            if run is not None:
                last = " ".join(run.texts)
            if any(w in last for w in DONE_WORDS):
                break
        outcome = next((w for w in DONE_WORDS if w in last), "still running" if self.s.auto_rerun else "unknown")
        return {"started": not already, "start_disabled_job_running": already, "polls": polls,
                "outcome": outcome, "watched_s": round(time.monotonic() - started, 1)}


ABORTED = []  # (phase, why): a user's steps that stopped on an error or at a phase's time limit


async def gather_bounded(coros, limit_s, stats=None, phase=""):
    """Run the coroutines at once for at most limit_s. A coroutine that raised, or was still
    running at the limit, did not finish its steps: it is counted as one lost interaction
    ("aborted") in `stats`, so that nothing a user did not get to do goes unseen."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    done, pending = await asyncio.wait(tasks, timeout=limit_s)
    for t in pending:
        t.cancel()
    results = []
    for t in tasks:
        if t in done and t.exception() is None:
            results.append(t.result())
            continue
        why = f"time limit of the phase ({limit_s:.0f} s)" if t in pending else repr(t.exception())[:200]
        ABORTED.append((phase, why))
        if stats is not None:
            stats.add(phase=phase, user=None, kind="aborted", seconds=None, ok=False, why=why)
        results.append(None)
    return results
