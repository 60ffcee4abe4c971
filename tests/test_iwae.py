"""The IWAE bound: never below the ELBO, tighter with more samples, finite and seeded."""
import numpy as np
import pytest

from vae.data.arrays import load_arrays
from vae.ml.metrics import elbo_terms, evaluate
from vae.ml.iwae import iwae_log_likelihood, iwae_metrics
from vae.ml.likelihood import log_normal, logsumexp
from vae.ml.model import load_vae
from vae.store.disk import MODEL_FILE

N_IMAGES = 100


@pytest.fixture(scope="module")
def model_and_images(tiny_model_dir):
    images = load_arrays(allow_download=False)["x_test"][:N_IMAGES]
    return load_vae(tiny_model_dir / MODEL_FILE), images


def test_iwae_is_at_least_the_elbo_and_tightens_with_k(model_and_images):
    model, images = model_and_images
    # The ELBO's expectation, from many one-sample estimates, so its own noise is small
    neg_elbo = np.mean([np.mean(sum(elbo_terms(model, images, seed=s)[:2])) for s in range(10)])
    nll = {k: iwae_metrics(model, images, k=k)["iwae_nll"] for k in (1, 10, 100, 500)}
    assert nll[1] == pytest.approx(neg_elbo, abs=1.0)  # K = 1 is a one-sample ELBO
    assert nll[500] <= neg_elbo
    assert nll[1] > nll[10] > nll[100] > nll[500]


def test_iwae_reports_its_standard_error_and_sizes(model_and_images):
    model, images = model_and_images
    per_image = -iwae_log_likelihood(model, images[:50], k=30)
    metrics = iwae_metrics(model, images[:50], k=30)
    assert metrics["iwae_nll"] == pytest.approx(per_image.mean())
    assert metrics["iwae_stderr"] == pytest.approx(per_image.std(ddof=1) / np.sqrt(50))
    assert (metrics["iwae_k"], metrics["iwae_images"]) == (30, 50)


def test_chunking_does_not_change_the_estimate(model_and_images):
    model, images = model_and_images
    whole = iwae_log_likelihood(model, images[:12], k=50, decode_batch=16384)
    one_image_at_a_time = iwae_log_likelihood(model, images[:12], k=50, decode_batch=50)
    np.testing.assert_allclose(whole, one_image_at_a_time, rtol=1e-5)


def test_evaluate_adds_iwae_only_when_asked(model_and_images):
    model, _ = model_and_images
    arrays = load_arrays(allow_download=False)
    small = {**arrays, "x_train": arrays["x_train"][:500], "y_train": arrays["y_train"][:500],
             "x_test": arrays["x_test"][:40], "y_test": arrays["y_test"][:40]}
    assert "iwae_nll" not in evaluate(model, small)
    metrics = evaluate(model, small, iwae_k=20, iwae_images=30)
    assert (metrics["iwae_k"], metrics["iwae_images"]) == (20, 30)
    assert np.isfinite(metrics["iwae_nll"]) and metrics["iwae_stderr"] > 0


def test_float64_helpers_are_stable():
    huge = np.array([[-1000.0, -1000.0], [1000.0, 1000.0]])
    np.testing.assert_allclose(logsumexp(huge, axis=1), [-1000 + np.log(2), 1000 + np.log(2)])
    # log N(0; 0, 1) in 2-D is -log(2π)
    assert log_normal(np.zeros(2), 0.0, 0.0) == pytest.approx(-np.log(2 * np.pi))
