"""The physical limit: this CPU's sustained float32 rate, and the share of it training reaches. Prints JSON.

  matmul      an n×n by n×n float32 product, 2·n³ floating-point operations of the
              densest kind a CPU runs: through TensorFlow (oneDNN, what training uses, on
              all cores), NumPy (its BLAS), and TensorFlow pinned to one core (the
              browser's JavaScript runs on one). Each multiplies for about --seconds
              after a warm-up; the best and the median call are reported.
  training    each architecture trained by vae.ml.fit.fit with its recipe's batch size on
              --train-images images an epoch (fit's validation slice comes on top; the
              images an epoch each run really used is printed as train_images) for 3
              epochs; the median of epochs 2-3, from the epoch's start to its validation
              pass, gives images/s, and with vae.ml.macs.training_macs the GFLOP/s it
              sustains, and its share of the matmul rate: of all cores in the same round
              (fraction_of_matmul_peak), and of one core's best call over the rounds
              (fraction_of_one_core: a core's peak, which a round's disturbed call understates).

The machine is shared, so --rounds repeats everything, interleaved, each in a fresh
Python; the best matmul call is the least disturbed estimate of the peak.

Usage: python bench/physical_limit.py [--n 4096] [--seconds 5] [--rounds 2] [--train-images 20000]
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.child import run_json  # noqa: E402


def timed_calls(multiply, seconds):
    multiply()  # warm-up: allocation, thread pools, kernels chosen
    times = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 3:
        started = time.perf_counter()
        multiply()
        times.append(time.perf_counter() - started)
    return times


def engine_rate(engine, n, seconds):
    """GFLOP/s of n×n float32 products: {"best", "median", "calls"}."""
    import numpy as np
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    if engine == "numpy":
        times = timed_calls(lambda: a @ b, seconds)
    else:
        import tensorflow as tf
        if engine == "tensorflow-one-core":
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # before TensorFlow's threads start
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        ta, tb = tf.constant(a), tf.constant(b)
        matmul = tf.function(lambda: tf.matmul(ta, tb))
        times = timed_calls(lambda: matmul().numpy(), seconds)  # .numpy() waits for the result
    flops = 2.0 * n ** 3
    times.sort()
    return {"best_gflops": round(flops / times[0] / 1e9, 1),
            "median_gflops": round(flops / times[len(times) // 2] / 1e9, 1), "calls": len(times)}


ENGINES = ("tensorflow", "numpy", "tensorflow-one-core")
ARCH_RECIPES = {"reference": "reference", "large": "large", "mlp": "fast"}  # each with its own batch size


def training_rate(arch, train_images):
    """Images/s and GFLOP/s of one architecture's training steps (validation excluded)."""
    import statistics

    import keras
    from vae.data.arrays import load_arrays
    from vae.ml.macs import architecture_macs
    from vae.ml.recipes import make_config
    from vae.ml.fit import fit

    class StepClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_test_begin(self, logs=None):  # fit's validation pass starts: the steps are done
            self.seconds.append(time.perf_counter() - self.started)

    config = make_config(ARCH_RECIPES[arch], arch=arch, epochs=3, patience=3,
                         limit=int(train_images / 0.9), warmup_epochs=0)
    clock = StepClock()
    _, summary = fit(config, load_arrays(allow_download=False), callbacks=[clock], verbose=0)
    images_per_second = summary["train_images"] / statistics.median(clock.seconds[1:])
    macs = architecture_macs(arch)["training"]
    return {"batch_size": config.batch_size, "train_images": summary["train_images"],
            "images_per_second": round(images_per_second, 1),
            "training_macs_per_image": macs, "gflops": round(2 * macs * images_per_second / 1e9, 1)}


def run_in_child(engine, args):
    """Each measurement in a fresh Python: thread settings must be made before TensorFlow starts."""
    return run_json(__file__, "--engine", engine, "--n", args.n, "--seconds", args.seconds,
                    "--train-images", args.train_images)


def summary(rounds, n):
    """The rounds, with the peaks (the best call of all rounds: the least disturbed) and each
    architecture's share of them: of all cores in its own round, and of one core's best."""
    best = {name: max(r[name]["best_gflops"] for r in rounds) for name in ENGINES}
    for r in rounds:
        for arch in ARCH_RECIPES:
            r[arch]["fraction_of_one_core"] = round(r[arch]["gflops"] / best["tensorflow-one-core"], 3)

    def span(key):
        return {arch: [min(r[arch][key] for r in rounds), max(r[arch][key] for r in rounds)] for arch in ARCH_RECIPES}

    return {"n": n, "cores": os.cpu_count(), "peak_gflops": max(best["tensorflow"], best["numpy"]),
            "peak_gflops_one_core": best["tensorflow-one-core"], "best": best,
            "train_images_per_epoch": sorted({r[arch]["train_images"] for r in rounds for arch in ARCH_RECIPES}),
            "training_fraction_range": span("fraction_of_matmul_peak"),
            "training_fraction_of_one_core_range": span("fraction_of_one_core"),
            "rounds": rounds}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--train-images", type=int, default=20000, help="training images per epoch")
    parser.add_argument("--engine", choices=ENGINES + tuple(ARCH_RECIPES), help=argparse.SUPPRESS)  # a child's job
    args = parser.parse_args(argv)
    if args.engine in ENGINES:
        print(json.dumps(engine_rate(args.engine, args.n, args.seconds)))
        return 0
    if args.engine:
        print(json.dumps(training_rate(args.engine, args.train_images)))
        return 0
    rounds = []
    for _ in range(args.rounds):
        measured = {name: run_in_child(name, args) for name in ENGINES + tuple(ARCH_RECIPES)}
        peak = measured["tensorflow"]["best_gflops"]
        for arch in ARCH_RECIPES:
            measured[arch]["fraction_of_matmul_peak"] = round(measured[arch]["gflops"] / peak, 3)
        measured["load_average"] = [round(v, 2) for v in os.getloadavg()]
        rounds.append(measured)
    print(json.dumps(summary(rounds, args.n)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
