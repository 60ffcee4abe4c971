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
from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server, wait_ready  # noqa: E402


def cli_throughput(limit, epochs, out):
    subprocess.run([sys.executable, "-m", "vae.train", "--limit", str(limit), "--epochs", str(epochs),
                    "--patience", str(epochs), "--out", str(out), "--quiet"], cwd=REPO, check=True,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, stdout=subprocess.DEVNULL)
    return json.loads((out / "metadata.json").read_text())["samples_per_second"]


def job_throughput(manager, limit, epochs):
    from vae.train import TrainConfig
    info = manager.start(TrainConfig(limit=limit, epochs=epochs, patience=epochs))
    manager.wait(timeout=1800)
    return json.loads((Path(info.model_dir) / "metadata.json").read_text())["samples_per_second"]


def wait_for_epoch(manager, epoch, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = manager.status()
        if status.epoch >= epoch and status.phase == "training":
            return
        time.sleep(0.1)
    raise TimeoutError("the job did not reach the epoch in time")


def stop_to_exit(manager, keep):
    from vae.train import TrainConfig
    manager.start(TrainConfig(limit=20000, epochs=50))
    wait_for_epoch(manager, 2)
    start = time.perf_counter()
    manager.stop(keep=keep)
    status = manager.wait(timeout=300)
    return round(time.perf_counter() - start, 2), status.state


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=12000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--clicks", type=int, default=15)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from vae.jobs import JobManager
    from vae.train import TrainConfig

    work = Path(tempfile.mkdtemp(prefix="vae-bench-"))
    models = work / "models"
    models.mkdir()
    shutil.copytree(REPO / "models" / "reference", models / "reference")
    manager = JobManager(models_dir=models)
    result = {"limit": args.limit, "epochs": args.epochs}
    try:
        result["cli_samples_per_second"] = cli_throughput(args.limit, args.epochs, work / "cli-model")
        result["job_samples_per_second"] = job_throughput(manager, args.limit, args.epochs)
        result["job_vs_cli"] = round(result["job_samples_per_second"] / result["cli_samples_per_second"], 3)

        proc, url, _ = start_server({"VAE_MODELS_DIR": str(models)})
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(url + "/")
                wait_ready(page, timeout=180_000)
                result["pad_commit_ms_idle"] = summary(pad_clicks(page, url, args.clicks))
                manager.start(TrainConfig(epochs=100))  # the full 54k split: busy throughout
                wait_for_epoch(manager, 1)
                result["pad_commit_ms_training"] = summary(pad_clicks(page, url, args.clicks))
                manager.stop(keep=False)
                manager.wait(timeout=300)
                browser.close()
        finally:
            stop_server(proc)
        result["stop_to_exit_s"], state = stop_to_exit(manager, keep=False)
        assert state == "discarded", state
        result["stop_keep_to_exit_s"], state = stop_to_exit(manager, keep=True)
        assert state == "stopped", state
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
