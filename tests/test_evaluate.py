"""`python -m vae.evaluate`, the metric code behind it, and the k-NN it scores with."""
import json
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from vae import evaluate as ev
from vae.ml.metrics import evaluate as evaluate_model
from vae.ml import knn
from vae.store import disk

REPO_ROOT = Path(__file__).resolve().parent.parent
IWAE_JSON_KEYS = {"iwae_neg_log_likelihood", "iwae_stderr", "iwae_k", "iwae_images", "dataset"}
JSON_KEYS = {"neg_elbo", "reconstruction", "kl", "knn5_accuracy", "model"}


def run_cli(*args):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "vae.evaluate", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


# -- the command line

def test_cli_json_prints_one_object_with_the_documented_keys(tiny_model_dir):
    result = run_cli("--model", str(tiny_model_dir), "--json", "--iwae-k", "50", "--iwae-images", "200")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout
    metrics = json.loads(lines[0])
    assert isinstance(metrics, dict) and set(metrics) == JSON_KEYS | IWAE_JSON_KEYS
    assert metrics["model"] == str(tiny_model_dir) and metrics["dataset"] == "mnist"
    assert (metrics["iwae_k"], metrics["iwae_images"]) == (50, 200)
    assert metrics["iwae_stderr"] > 0 and math.isfinite(metrics["iwae_neg_log_likelihood"])
    for key in JSON_KEYS - {"model"}:
        assert isinstance(metrics[key], float) and math.isfinite(metrics[key]), key
    assert metrics["neg_elbo"] == pytest.approx(metrics["reconstruction"] + metrics["kl"], rel=1e-9)
    assert metrics["reconstruction"] > 0 and metrics["kl"] >= 0
    assert 0.0 <= metrics["knn5_accuracy"] <= 1.0
    # A fresh process on the saved file reproduces what training measured on the in-memory model.
    at_training = disk.read_metadata(tiny_model_dir)["metrics"]
    for key in JSON_KEYS - {"model"}:
        assert metrics[key] == pytest.approx(at_training[key], rel=1e-5, abs=1e-6), key


def test_cli_missing_model_dir_exits_2_with_an_error(tmp_path):
    missing = tmp_path / "no-such-model"
    result = run_cli("--model", str(missing), "--json")
    assert result.returncode == 2
    assert "error:" in result.stderr and str(missing) in result.stderr
    assert result.stdout.strip() == ""


def test_incomplete_model_dir_exits_2(tmp_path, capsys):
    half = tmp_path / "half"
    half.mkdir()
    (half / disk.MODEL_FILE).write_bytes(b"")  # no metadata.json: not a model directory
    assert ev.main(["--model", str(half), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error:") and captured.out == ""


# -- evaluate() on a model whose answers we know

class KnownModel:
    """encode: z_mean = two image statistics, log-variance 0; decode: every pixel 0.5."""

    latent_dim = 2

    def encode(self, images):
        images = np.asarray(images, dtype="float32").reshape(len(images), 28, 28)
        z_mean = np.stack([images.mean(axis=(1, 2)), images[:, :14].mean(axis=(1, 2))], axis=1)
        return z_mean, np.zeros_like(z_mean)

    def decode(self, z):
        return np.full((len(z), 28, 28), 0.5, dtype="float32")


def test_evaluate_metrics_match_hand_computed_values():
    from vae.data.arrays import load_arrays
    full = load_arrays(allow_download=False)
    arrays = {"x_train": full["x_train"][:400], "y_train": full["y_train"][:400],
              "x_test": full["x_test"][:120], "y_test": full["y_test"][:120]}
    metrics = evaluate_model(KnownModel(), arrays, seed=0)
    assert set(metrics) == {"neg_elbo", "reconstruction", "kl", "knn5_accuracy"}
    # Every pixel predicted as 0.5 costs ln 2, whatever the image and the z sample.
    assert metrics["reconstruction"] == pytest.approx(784 * math.log(2), rel=1e-6)
    # KL of N(mu, 1) from N(0, 1) is mu^2 / 2, summed over the two dims.
    mu_test, _ = KnownModel().encode(arrays["x_test"] / 255.0)
    assert metrics["kl"] == pytest.approx(0.5 * (mu_test.astype(np.float64) ** 2).sum(axis=1).mean(), rel=1e-5)
    assert metrics["neg_elbo"] == pytest.approx(metrics["reconstruction"] + metrics["kl"], rel=1e-9)
    mu_train, _ = KnownModel().encode(arrays["x_train"] / 255.0)
    expected = brute_knn_accuracy(mu_train, arrays["y_train"], mu_test, arrays["y_test"], k=5)
    assert metrics["knn5_accuracy"] == pytest.approx(expected)
    assert metrics["knn5_accuracy"] > 0.1  # these two statistics do carry some digit information


# -- k-NN against a brute-force reference

def brute_distances(reference, queries):
    r = np.asarray(reference, dtype=np.float64)
    q = np.atleast_2d(np.asarray(queries, dtype=np.float64))
    return ((q[:, None, :] - r[None, :, :]) ** 2).sum(axis=2)


def brute_nearest(reference, queries, k):
    """Nearest first; equal distances by lower index."""
    return np.argsort(brute_distances(reference, queries), axis=1, kind="stable")[:, :k]


def brute_vote(row):
    counts = Counter(row.tolist())
    best = max(counts.values())
    return next(label for label in row.tolist() if counts[label] == best)


def brute_knn_accuracy(reference, reference_labels, queries, query_labels, k):
    idx = brute_nearest(reference, queries, k)
    predicted = np.array([brute_vote(row) for row in np.asarray(reference_labels)[idx]])
    return float(np.mean(predicted == np.asarray(query_labels)))


@pytest.mark.parametrize("chunk", [512, 7])
@pytest.mark.parametrize("k", [1, 5, 12, 100])  # large k: argpartition alone leaves rows unsorted
def test_nearest_matches_brute_force_without_ties(k, chunk):
    rng = np.random.default_rng(k * 100 + chunk)
    reference = rng.normal(size=(400, 2)).astype(np.float32)
    queries = rng.normal(size=(200, 2)).astype(np.float32)
    got = knn.nearest(reference, queries, k=k, chunk=chunk)
    assert got.shape == (200, k)
    assert all(len(set(row.tolist())) == k for row in got)
    dist = brute_distances(reference, queries)
    # knn expands |q - r|^2, which loses a little to cancellation even in float64, so two
    # near-equal neighbours may swap places: compare the distances in rank order.
    np.testing.assert_allclose(np.take_along_axis(dist, got, axis=1),
                               np.take_along_axis(dist, brute_nearest(reference, queries, k), axis=1),
                               rtol=0, atol=1e-5)


def test_nearest_with_ties_returns_the_k_smallest_distances_in_order():
    # A 6x6 integer grid, every point twice: exact duplicates and many equal distances.
    grid = np.array([(i, j) for i in range(6) for j in range(6)], dtype=np.float32)
    reference = np.concatenate([grid, grid[::-1]])
    queries = np.concatenate([grid[::5], grid[::7] + 0.5, [[2.5, 2.5], [-1.0, -1.0]]]).astype(np.float32)
    k = 7
    got = knn.nearest(reference, queries, k=k)
    dist = brute_distances(reference, queries)  # exact: small integers and halves
    assert got.shape == (len(queries), k)
    for row, idx in enumerate(got):
        assert len(set(idx.tolist())) == k  # no neighbour twice
        d = dist[row, idx]
        assert np.all(np.diff(d) >= 0)  # nearest first
        np.testing.assert_array_equal(d, np.sort(dist[row])[:k])  # the k smallest distances
        kth = d[-1]
        assert set(np.flatnonzero(dist[row] < kth)) <= set(idx.tolist())  # nothing strictly closer left out
    # The query (2.5, 2.5) has 4 grid points at distance 0.5, each twice: 8 tied candidates for k=7.
    assert np.all(dist[len(queries) - 2, got[-2]] == 0.5)


def test_nearest_with_k_larger_than_the_reference_returns_all_in_order():
    reference = np.array([[0.0, 0.0], [3.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    got = knn.nearest(reference, [0.9, 0.0], k=5)
    np.testing.assert_array_equal(got, [[2, 0, 1]])


@pytest.mark.parametrize("row, expected", [
    ([1, 2, 1, 2, 3], 1),  # two labels tied at 2: the nearer one wins
    ([3, 2, 2, 3, 1], 3),
    ([5, 1, 1, 2, 2], 1),  # the top label need not be nearest overall
    ([4, 3, 2, 1, 0], 4),  # all tied at 1: the nearest
    ([0, 9, 9, 0, 5], 0),
    ([7, 7, 7, 7, 7], 7),
    ([6, 8, 8, 8, 6], 8),  # a clear majority beats the nearest
])
def test_vote_tie_cases(row, expected):
    assert knn.vote(np.array([row]))[0] == expected == brute_vote(np.array(row))


def test_vote_matches_brute_force_on_random_rows():
    rng = np.random.default_rng(7)
    rows = rng.integers(0, 4, size=(500, 5))  # four labels in five slots: ties are common
    np.testing.assert_array_equal(knn.vote(rows), [brute_vote(r) for r in rows])


def test_knn_accuracy_and_predict_match_brute_force():
    rng = np.random.default_rng(11)
    centres = rng.normal(0.0, 2.0, size=(10, 2))
    ref_labels = rng.integers(0, 10, 400)
    query_labels = rng.integers(0, 10, 150)
    reference = (centres[ref_labels] + rng.normal(size=(400, 2))).astype(np.float32)
    queries = (centres[query_labels] + rng.normal(size=(150, 2))).astype(np.float32)
    predicted, idx = knn.knn_predict(reference, ref_labels, queries, k=5)
    np.testing.assert_array_equal(idx, brute_nearest(reference, queries, 5))
    np.testing.assert_array_equal(predicted, [brute_vote(row) for row in ref_labels[idx]])
    accuracy = knn.knn_accuracy(reference, ref_labels, queries, query_labels, k=5)
    assert accuracy == brute_knn_accuracy(reference, ref_labels, queries, query_labels, k=5)
    assert 0.1 < accuracy < 1.0  # overlapping clusters: informative, not trivial
