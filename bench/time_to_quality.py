"""Time to quality: training wall time until the held-out test -ELBO reaches a target. Prints JSON.

As MLPerf Training measures it. Two recipes (vae.ml.recipes) train on the same split
(vae.train's: 54,000 MNIST training images, 6,000 held out for early stopping):

  baseline   `reference`: the post's recipe (reference architecture, KL mean, Adam 1e-3,
             batch 128); its learning rate is constant, so more epochs than its 30 do not
             change its curve: it runs until it reaches the target (at most --max-epochs)
  candidate  `fast`: the project's fast recipe, run exactly as the recipe says

After every epoch a callback computes the true -ELBO on the 10,000 test images (as
vae.evaluate does: one seeded z per image, KL summed) and keeps that time off the
training clock. The clock starts before vae.ml.fit.fit, so it includes building the
model, preparing the data, tracing the graphs and the recipe's own validation pass.
The target is the shipped reference's final test -ELBO, 154.9 nats. Time to target is
the clock at the end of the first epoch whose -ELBO is at or below the target. (Encoding
draws from the model's sampling layer, so a run with this evaluation ends a few hundredths
of a nat from the same recipe's run without it.)

The machine is shared and its load changes by the minute, so recipes are compared only
within a round: baseline then candidate, each in a fresh Python, for --rounds rounds;
the ratio of each round and their range are reported. A PNG draws every curve
(training seconds on x, held-out -ELBO on y). Every run is also appended to
bench/results/time_to_quality.jsonl.

Usage: python bench/time_to_quality.py [--rounds 2] [--target 154.9] [--png PATH]
       python bench/time_to_quality.py --replot OUTPUT.json --png PATH   (redraw only)
       python bench/time_to_quality.py --one fast [--options '{"epochs": 8}']   (one run, JSON)
"""
import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.child import run_json  # noqa: E402

TARGET = 154.9  # models/reference's final test -ELBO (README, its model card)
RESULTS = REPO / "bench" / "results"
LOG = RESULTS / "time_to_quality.jsonl"


def quality_clock(x_test_u8, target, seed=0, stop_at_target=False):
    """A Keras callback: held-out -ELBO after each epoch, timed off a pausable training clock."""
    import keras
    import numpy as np
    from vae.ml.metrics import elbo_terms

    class QualityClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.started = time.perf_counter()  # made just before fit(): setup is on the clock
            self.paused = 0.0
            self.curve = []

        def training_seconds(self):
            return time.perf_counter() - self.started - self.paused

        def on_epoch_end(self, epoch, logs=None):
            seconds = self.training_seconds()
            pause = time.perf_counter()
            reconstruction, kl, _ = elbo_terms(self.model, x_test_u8, seed)
            neg_elbo = float(np.mean(reconstruction + kl))
            self.curve.append({"epoch": epoch + 1, "seconds": round(seconds, 2), "neg_elbo": round(neg_elbo, 3),
                               "val_neg_elbo": round(float((logs or {}).get("val_neg_elbo", float("nan"))), 3)})
            if stop_at_target and neg_elbo <= target:
                self.model.stop_training = True
            self.paused += time.perf_counter() - pause

    return QualityClock()


def time_to_target(curve, target):
    """(seconds, epoch) at the end of the first epoch at or below the target, or (None, None)."""
    for point in curve:
        if point["neg_elbo"] <= target:
            return point["seconds"], point["epoch"]
    return None, None


def time_to_target_point(curve, target):
    return next(p["neg_elbo"] for p in curve if p["neg_elbo"] <= target)


def run_config(config, arrays, target, stop_at_target=False, label=""):
    """Train `config` with the quality clock; the curve, time to target and final metrics."""
    from vae.ml.metrics import evaluate
    from vae.ml.fit import fit
    clock = quality_clock(arrays["x_test"], target, seed=config.seed, stop_at_target=stop_at_target)
    model, summary = fit(config, arrays, callbacks=[clock], verbose=0)
    train_seconds = clock.training_seconds()
    seconds, epoch = time_to_target(clock.curve, target)
    final = evaluate(model, arrays, seed=config.seed, spec=config.dataset)  # fit()'s model: best weights
    return {"recipe": label, "options": dataclasses.asdict(config),
            "seconds_to_target": seconds, "epochs_to_target": epoch,
            "epochs_run": summary["epochs_run"], "train_seconds": round(train_seconds, 2),
            "final_neg_elbo": round(final["neg_elbo"], 3), "final_knn5": round(final["knn5_accuracy"], 4),
            "curve": clock.curve, "load_average": [round(v, 2) for v in os.getloadavg()]}


def log_run(result):
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(LOG, "a") as f:
        f.write(json.dumps({"time": time.strftime("%Y-%m-%d %H:%M:%S"), **result}) + "\n")


def run_one(recipe, options, target, stop_at_target):
    from vae.data.arrays import load_arrays
    from vae.data.datasets import get_dataset
    from vae.ml.recipes import make_config
    config = make_config(recipe, **options)
    arrays = load_arrays(dataset=get_dataset(config.dataset), allow_download=False)
    result = run_config(config, arrays, target, stop_at_target, label=recipe)
    log_run(result)
    return result


def run_in_child(recipe, options, target, stop_at_target):
    return run_json(__file__, "--one", recipe, "--options", json.dumps(options), "--target", target,
                    *(["--stop-at-target"] if stop_at_target else []))


def plot(runs, target, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=120)
    colours = {"baseline": "#888888", "candidate": "#d62728"}
    for run in runs:
        xs = [p["seconds"] for p in run["curve"]]
        ys = [p["neg_elbo"] for p in run["curve"]]
        style = "-" if run["round"] == 1 else "--"
        seconds = run["seconds_to_target"]
        label = f"{run['recipe']} (round {run['round']}): " + (f"{seconds:.0f} s to target" if seconds
                                                                 else "target not reached")
        ax.plot(xs, ys, style, marker=".", color=colours[run["role"]], label=label)
        if seconds:
            ax.plot([seconds], [time_to_target_point(run["curve"], target)], "o", markersize=8,
                    markerfacecolor="none", color=colours[run["role"]])
    ax.axhline(target, color="black", linewidth=0.8)
    ax.text(ax.get_xlim()[1], target, f"target {target} ", va="bottom", ha="right", fontsize=8)
    lowest = min(p["neg_elbo"] for run in runs for p in run["curve"])
    ax.set_ylim(min(lowest, target) - 2, target + 35)
    ax.set_xlabel("training wall time (s), evaluation excluded")
    ax.set_ylabel("held-out test -ELBO (nats / image)")
    ax.set_title("Time to quality on MNIST, 2 CPU cores (shared)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="reference", help="recipe name (vae.ml.recipes)")
    parser.add_argument("--candidate", default="fast", help="recipe name (vae.ml.recipes)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds: baseline, candidate, ...")
    parser.add_argument("--target", type=float, default=TARGET, help="held-out test -ELBO to reach (nats)")
    parser.add_argument("--max-epochs", type=int, default=60,
                        help="the baseline's cap while it runs to the target (constant rate: same curve)")
    parser.add_argument("--png", default=str(RESULTS / "time_to_quality.png"))
    parser.add_argument("--replot", metavar="JSON", help="only redraw the PNG from a saved output")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child's job: one recipe
    parser.add_argument("--options", default="{}", help="with --one: TrainConfig overrides as JSON")
    parser.add_argument("--stop-at-target", action="store_true", help="with --one: stop once reached")
    args = parser.parse_args(argv)
    if args.replot:
        saved = json.loads(Path(args.replot).read_text())
        plot(saved["runs"], saved["target"], args.png)
        return 0
    if args.one:
        print(json.dumps(run_one(args.one, json.loads(args.options), args.target, args.stop_at_target)))
        return 0
    baseline_options = {"epochs": args.max_epochs, "patience": args.max_epochs}
    runs = []
    for round_ in range(1, args.rounds + 1):
        for role, recipe, options, stop in (("baseline", args.baseline, baseline_options, True),
                                            ("candidate", args.candidate, {}, False)):
            run = run_in_child(recipe, options, args.target, stop)
            runs.append({"role": role, "round": round_, **run})
            print(f"round {round_} {role} {recipe}: {run['seconds_to_target']} s to target "
                  f"(epoch {run['epochs_to_target']}), final {run['final_neg_elbo']}", file=sys.stderr)
    ratios = []
    for round_ in range(1, args.rounds + 1):
        base, cand = (next(r for r in runs if r["round"] == round_ and r["role"] == role)
                      for role in ("baseline", "candidate"))
        if base["seconds_to_target"] and cand["seconds_to_target"]:
            ratios.append(round(cand["seconds_to_target"] / base["seconds_to_target"], 3))
        else:
            ratios.append(None)
    plot(runs, args.target, args.png)
    reached = [r for r in ratios if r is not None]
    print(json.dumps({
        "target": args.target, "baseline": args.baseline, "candidate": args.candidate,
        "seconds_to_target": {role: [r["seconds_to_target"] for r in runs if r["role"] == role]
                              for role in ("baseline", "candidate")},
        "ratio_candidate_over_baseline": ratios,
        "ratio_range": [min(reached), max(reached)] if reached else None,
        "speedup_range": [round(1 / max(reached), 2), round(1 / min(reached), 2)] if reached else None,
        "png": args.png, "runs": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
