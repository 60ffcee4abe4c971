"""This CPU's sustained float32 rate: a large matrix multiply, timed. Prints JSON.

The ceiling any training or decoding here can approach: an n×n by n×n float32 product
is 2·n³ floating-point operations (n³ multiply-adds) of the densest kind a CPU runs.
Measured through TensorFlow (oneDNN, what training uses, on all cores) and NumPy (its
BLAS), and through TensorFlow pinned to one core (the browser's JavaScript runs on one).
Each engine multiplies for about --seconds after a warm-up; the best and the median of
its calls are reported. The machine is shared, so --rounds repeats the set, interleaved,
and the best call is the least disturbed estimate of the peak.

Usage: python bench/peak_flops.py [--n 4096] [--seconds 5] [--rounds 2]
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


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


def run_in_child(engine, args):
    """Each engine in a fresh Python: thread settings must be made before TensorFlow starts."""
    cmd = [sys.executable, __file__, "--engine", engine, "--n", str(args.n), "--seconds", str(args.seconds)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)  # a child's job
    args = parser.parse_args(argv)
    if args.engine:
        print(json.dumps(engine_rate(args.engine, args.n, args.seconds)))
        return 0
    runs = {engine: [] for engine in ENGINES}
    for _ in range(args.rounds):
        for engine in ENGINES:
            runs[engine].append(run_in_child(engine, args))
    best = {engine: max(r["best_gflops"] for r in rs) for engine, rs in runs.items()}
    print(json.dumps({"n": args.n, "cores": os.cpu_count(), "load_average": [round(v, 2) for v in os.getloadavg()],
                      "peak_gflops": max(best["tensorflow"], best["numpy"]),
                      "peak_gflops_one_core": best["tensorflow-one-core"], "best": best, "runs": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
