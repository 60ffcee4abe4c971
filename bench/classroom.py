"""A class trains at once: ten people start a quick run within 5 s of each other. Prints JSON.

Each person is one browser (one `vae_browser` cookie) with two tabs, at Streamlit's protocol
level (bench/streamlit_client.py, the users of bench/users.py): on the Train tab they ask for
2,000 images and 1 epoch, press Start, and watch their job as the page does (the fragment's
run_every), reading their place in the queue; on the pad they keep a point every ~2 s all along.

Three set-ups, each a fresh server over a fresh models folder, measured one after the other:
  local-1    the built-in runner, one job at a time (the baseline)
  local-2    the built-in runner, VAE_MAX_JOBS=2 (one CPU thread each)
  ray-2cpu   a Ray head started here (`ray start --head --num-cpus 2`, its own ports and
             folder, stopped at the end: harness/ray_cluster.py), VAE_JOB_RUNNER=ray, 1 CPU a job
For each: makespan (first Start → last job ended, from the jobs' own times) and jobs per minute,
as ratios against local-1 of the same run; and the goals: 10 of 10 finished, 0 interactions
lost, no job started twice (one "started" event each), nobody's place in the queue ever went
up, pad commits p95 ≤ 1 s throughout. At the end a Chromium page opens the Gallery (showing
more until every card is drawn) and checks that every version the class made has its card.

Usage: python bench/classroom.py [--people 10] [--setups local-1,local-2,ray-2cpu]
"""
import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.app_server import Server  # noqa: E402
from bench.users import DONE_WORDS, Stats, User, gather_bounded, job_name  # noqa: E402
from harness.browser import CHROMIUM, CHROMIUM_ARGS, wait_ready  # noqa: E402
from harness.ray_cluster import RayCluster  # noqa: E402

LIMIT, EPOCHS = 2000, 1
SETUPS = {"local-1": {"VAE_MAX_JOBS": "1"},
          "local-2": {"VAE_MAX_JOBS": "2", "VAE_JOB_CPUS": "1"},
          "ray-2cpu": {"VAE_JOB_RUNNER": "ray", "VAE_JOB_CPUS": "1"}}
PLACE = re.compile(r"\*\*(\d+)(?:st|nd|rd|th)\*\* in the queue")


async def person(url, index, stats, start_at, timeout, done):
    """One person: the Train tab (start, then watch), and the pad in a second tab until their job ends."""
    train = User(url, index, stats, "class", timeout, think_s=0, seed=index)
    pad = User(url, 1000 + index, stats, "class", timeout, think_s=2.0, seed=1000 + index)
    pad.s.cookies["vae_browser"] = train.token  # the same browser
    record = {"person": index, "places": [], "job": None, "outcome": None}
    if not (await train.open() and await pad.open()):
        return record
    if await train.tab("Train") is None:
        return record
    train.s.set_double("train_limit", LIMIT)
    await train.step("train_setting", lambda run: None)
    train.s.set_double_array("train_epochs@fast", [EPOCHS])
    await train.step("train_setting", lambda run: None)

    async def keep_points():
        while not done[index].is_set():
            await pad.commits(1)

    pad_task = asyncio.ensure_future(keep_points())
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    record["clicked"] = time.time()
    run = await train.step("train_start", lambda run: None if job_name(run.texts) else
                           "no job of mine after Start: " + " ".join(run.texts)[-160:], triggers=["train_start"])
    last = " ".join(run.texts) if run else ""
    record["job"] = job_name(run.texts) if run else None
    while run is not None and train.s.auto_rerun and not any(w in last for w in DONE_WORDS):
        fragment_id, interval = next(iter(train.s.auto_rerun.items()))
        await asyncio.sleep(interval)
        polled = await train.step("train_poll", lambda run: None, fragment_id=fragment_id, is_auto_rerun=True)
        if polled is not None:
            last = " ".join(polled.texts)
            places = [int(m.group(1)) for m in PLACE.finditer(last)]
            if places:
                record["places"].append(places[0])
    record["outcome"] = next((w for w in DONE_WORDS if w in last), "unknown")
    done[index].set()
    await pad_task
    await train.s.close()
    await pad.s.close()
    return record


def job_facts(models):
    """From the job folders: per job, its submit/start/end times and how many times it started."""
    facts = []
    for job_dir in sorted((models / ".jobs").iterdir()):
        job = job_dir / "job.json"
        if not job.exists():
            continue
        info = json.loads(job.read_text())
        events = [json.loads(line) for line in (job_dir / "progress.jsonl").read_text().splitlines()] \
            if (job_dir / "progress.jsonl").exists() else []
        ends = [e["time"] for e in events if e["type"] in ("finished", "failed", "discarded")]
        facts.append({"name": info["name"], "submitted": info["submitted"],
                      "starts": sum(e["type"] == "started" for e in events),
                      "started": next((e["time"] for e in events if e["type"] == "started"), None),
                      "ended": ends[-1] if ends else None,
                      "finished": any(e["type"] == "finished" for e in events),
                      "version_saved": (models / info["name"] / "metadata.json").exists()})
    return facts


CARD_NAMES = "() => [...document.querySelectorAll('[class*=st-key-gallery_card_] h3')].map(h => h.innerText.trim())"


def gallery_names(url):
    """The version names on the Gallery's cards, as a person sees them in Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url + "/?view=Gallery")
            wait_ready(page)
            page.locator("[class*=st-key-gallery_card_] h3").first.wait_for(timeout=60_000)
            more = page.locator(".st-key-gallery_more button")
            while more.count():
                shown = len(page.evaluate(CARD_NAMES))
                more.click()
                page.wait_for_function(f"() => ({CARD_NAMES})().length > {shown}")
                wait_ready(page)
            return page.evaluate(CARD_NAMES)
        finally:
            browser.close()


async def one_setup(name, people, env, timeout):
    with tempfile.TemporaryDirectory(prefix=f"vae-class-{name}-") as workdir:
        server = Server(workdir, env=env)
        try:
            stats = Stats()
            done = [asyncio.Event() for _ in range(people)]
            t0 = time.monotonic() + 20  # everyone has the page and the Train tab open by then
            starts = [t0 + 4.5 * i / max(1, people - 1) for i in range(people)]  # within 5 s
            records = await gather_bounded([person(server.url, i, stats, starts[i], timeout, done)
                                            for i in range(people)], 1800, stats, "class")
            facts = job_facts(server.models)
            in_gallery = set(await asyncio.to_thread(gallery_names, server.url))
        finally:
            server.stop()
        records = [r for r in records if r]
        finished = [f for f in facts if f["finished"] and f["version_saved"]]
        makespan = (max(f["ended"] for f in facts if f["ended"]) - min(f["submitted"] for f in facts)
                    if facts and all(f["ended"] for f in facts) else None)
        pad = stats.summary({"class"}, {"commit"})
        went_up = [r["person"] for r in records if any(b > a for a, b in zip(r["places"], r["places"][1:]))]
        return {
            "jobs": len(facts), "finished": len(finished), "ran_twice": sum(f["starts"] > 1 for f in facts),
            "places_went_up_for": went_up, "first_places_seen": [r["places"][:1] for r in records],
            "outcomes": sorted(r["outcome"] for r in records),
            "makespan_s": round(makespan, 1) if makespan else None,
            "jobs_per_minute": round(60 * len(finished) / makespan, 2) if makespan else None,
            "clicks_spread_s": round(max(r.get("clicked", 0) for r in records) - min(r.get("clicked", 1e18) for r in records), 2),
            "interactions": stats.summary({"class"}), "pad_commits": pad,
            "goals_met": {"all_finished": len(finished) == people, "lost_0": stats.summary({"class"})["lost"] == 0,
                          "none_ran_twice": all(f["starts"] == 1 for f in facts),
                          "no_place_went_up": not went_up, "pad_p95_le_1s": pad.get("p95_s", 99) <= 1.0,
                          "all_in_the_gallery": {f["name"] for f in finished} <= in_gallery},
            "gallery_cards": len(in_gallery),
        }


async def amain(args):
    out = {"people": args.people, "limit": LIMIT, "epochs": EPOCHS, "cpus": os.cpu_count(), "setups": {}}
    for name in args.setups.split(","):
        env = dict(SETUPS[name])
        if name.startswith("ray"):
            cluster = RayCluster()
            try:
                cluster.start()
                env["RAY_ADDRESS"] = cluster.address
                out["setups"][name] = await one_setup(name, args.people, env, args.timeout)
            finally:
                cluster.stop()
        else:
            out["setups"][name] = await one_setup(name, args.people, env, args.timeout)
    base = out["setups"].get("local-1", {})
    for name, result in out["setups"].items():
        if base.get("makespan_s") and result.get("makespan_s"):
            result["makespan_vs_local_1"] = round(result["makespan_s"] / base["makespan_s"], 2)
            result["jobs_per_minute_vs_local_1"] = round(result["jobs_per_minute"] / base["jobs_per_minute"], 2)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=10)
    parser.add_argument("--setups", default="local-1,local-2,ray-2cpu")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds an interaction may take")
    print(json.dumps(asyncio.run(amain(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
