"""Training from the app against the CLI, the pad while a job runs, and Stop. Prints JSON.

  cli_samples_per_second       `python -m vae.train` on the same data (the baseline)
  job_samples_per_second       the trainer the Train tab starts (vae.jobs: own process, nice 10)
  pad_commit_ms_idle           pad click → kept point back from the server, no job running (baseline)
  pad_commit_ms_training       the same while a job trains on the same 2 cores
  stop_to_exit_s               Stop (discard) pressed → trainer process gone
  stop_keep_to_exit_s          Stop (keep) → process gone, after evaluating and saving

Usage: python bench/training.py [--limit 12000] [--epochs 3] [--clicks 15]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.browser_latency import pad_clicks, summary  # noqa: E402
from harness.browser import CHROMIUM, CHROMIUM_ARGS, wait_ready  # noqa: E402
from harness.server import start_server, stop_server  # noqa: E402
from vae.jobs.people import OPERATOR  # noqa: E402


def cli_throughput(limit, epochs, out):
    subprocess.run([sys.executable, "-m", "vae.train", "--limit", str(limit), "--epochs", str(epochs),
                    "--patience", str(epochs), "--out", str(out), "--quiet"], cwd=REPO, check=True,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, stdout=subprocess.DEVNULL)
    return json.loads((out / "metadata.json").read_text())["samples_per_second"]


def submit(runner, config):
    return runner.submit(config, OPERATOR, operator=True)


def job_throughput(runner, limit, epochs):
    from vae.ml.config import TrainConfig
    job = submit(runner, TrainConfig(limit=limit, epochs=epochs, patience=epochs))
    status = runner.wait(job, timeout=1800)
    return json.loads((Path(status.model_dir) / "metadata.json").read_text())["samples_per_second"]


def wait_for_epoch(runner, job, epoch, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = runner.status(job)
        if status.epoch >= epoch and status.phase == "training":
            return
        time.sleep(0.1)
    raise TimeoutError("the job did not reach the epoch in time")


def stop_to_exit(runner, keep):
    from vae.ml.config import TrainConfig
    job = submit(runner, TrainConfig(limit=20000, epochs=50))
    wait_for_epoch(runner, job, 2)
    start = time.perf_counter()
    runner.stop(job, keep=keep, operator=True)
    status = runner.wait(job, timeout=300)
    return round(time.perf_counter() - start, 2), status.state


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=12000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--clicks", type=int, default=15)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from vae.jobs.local import LocalRunner
    from vae.ml.config import TrainConfig

    work = Path(tempfile.mkdtemp(prefix="vae-bench-"))
    models = work / "models"
    models.mkdir()
    shutil.copytree(REPO / "models" / "reference", models / "reference")
    runner = LocalRunner(models_dir=models, max_jobs=1)
    result = {"limit": args.limit, "epochs": args.epochs}
    try:
        result["cli_samples_per_second"] = cli_throughput(args.limit, args.epochs, work / "cli-model")
        result["job_samples_per_second"] = job_throughput(runner, args.limit, args.epochs)
        result["job_vs_cli"] = round(result["job_samples_per_second"] / result["cli_samples_per_second"], 3)

        proc, url, _ = start_server({"VAE_MODELS_DIR": str(models)})
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(url + "/")
                wait_ready(page, timeout=180_000)
                result["pad_commit_ms_idle"] = summary(pad_clicks(page, url, args.clicks))
                job = submit(runner, TrainConfig(epochs=100))  # the full 54k split: busy throughout
                wait_for_epoch(runner, job, 1)
                result["pad_commit_ms_training"] = summary(pad_clicks(page, url, args.clicks))
                runner.stop(job, operator=True)
                runner.wait(job, timeout=300)
                browser.close()
        finally:
            stop_server(proc)
        result["stop_to_exit_s"], state = stop_to_exit(runner, keep=False)
        assert state == "discarded", state
        result["stop_keep_to_exit_s"], state = stop_to_exit(runner, keep=True)
        assert state == "stopped", state
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
