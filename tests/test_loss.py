"""The VAE objective against an independent NumPy (float64) computation of the formula."""
import numpy as np
import pytest

from keras import ops

from vae.ml.loss import kl_divergence, reconstruction_loss, vae_loss_terms

BATCH, LATENT = 6, 3
# keras clips probabilities to [eps, 1 - eps] in float32 before the log
EPS_LO = np.float32(1e-7)
EPS_HI = np.float32(1.0 - 1e-7)


@pytest.fixture(scope="module")
def tensors():
    rng = np.random.default_rng(1234)
    x = rng.random((BATCH, 28, 28, 1), dtype=np.float32)
    x[x < 0.3] = 0.0  # MNIST-like: many exact 0s and 1s in the targets
    x[x > 0.8] = 1.0
    x_decoded = rng.random((BATCH, 28, 28, 1), dtype=np.float32)
    # Saturated outputs exercise the epsilon clip: without it the loss is infinite.
    x_decoded[0, :3, :3, 0] = 0.0
    x_decoded[1, :3, :3, 0] = 1.0
    x[0, :3, :3, 0] = 1.0
    x[1, :3, :3, 0] = 0.0
    z_mean = rng.normal(0.0, 1.5, (BATCH, LATENT)).astype(np.float32)
    z_log_var = rng.normal(0.0, 1.0, (BATCH, LATENT)).astype(np.float32)
    return x, x_decoded, z_mean, z_log_var


def numpy_reconstruction(x, x_decoded):
    p = np.clip(x_decoded, EPS_LO, EPS_HI).astype(np.float64)
    x = x.astype(np.float64)
    per_pixel = -(x * np.log(p) + (1.0 - x) * np.log(1.0 - p))
    return per_pixel.reshape(len(x), -1).sum(axis=1)


def numpy_kl_per_dim(z_mean, z_log_var):
    mu, log_var = z_mean.astype(np.float64), z_log_var.astype(np.float64)
    return -0.5 * (1.0 + log_var - mu ** 2 - np.exp(log_var))


def numpy_terms(x, x_decoded, z_mean, z_log_var, kl_reduction, beta):
    recon = numpy_reconstruction(x, x_decoded).mean()
    per_dim = numpy_kl_per_dim(z_mean, z_log_var)
    kl = (per_dim.mean(axis=1) if kl_reduction == "mean" else per_dim.sum(axis=1)).mean()
    kl_sum = per_dim.sum(axis=1).mean()
    return {"loss": recon + beta * kl, "reconstruction_loss": recon, "kl_loss": kl,
            "neg_elbo": recon + kl_sum}


def as_numpy(t):
    return np.asarray(ops.convert_to_numpy(t), dtype=np.float64)


@pytest.mark.parametrize("beta", [0.5, 1.0, 4.0])
@pytest.mark.parametrize("kl_reduction", ["mean", "sum"])
def test_vae_loss_terms_match_numpy(tensors, kl_reduction, beta):
    got = vae_loss_terms(*tensors, kl_reduction=kl_reduction, beta=beta)
    want = numpy_terms(*tensors, kl_reduction, beta)
    assert set(got) == set(want)
    for key in want:
        assert np.isfinite(want[key])
        np.testing.assert_allclose(as_numpy(got[key]), want[key], rtol=1e-5, err_msg=key)


def test_defaults_are_the_reference_mean_reduction_and_beta_one(tensors):
    got = vae_loss_terms(*tensors)
    want = numpy_terms(*tensors, "mean", 1.0)
    for key in want:
        np.testing.assert_allclose(as_numpy(got[key]), want[key], rtol=1e-5, err_msg=key)


def test_reconstruction_is_per_image_and_uses_the_epsilon_clip(tensors):
    x, x_decoded, _, _ = tensors
    got = as_numpy(reconstruction_loss(x, x_decoded))
    assert got.shape == (BATCH,)
    np.testing.assert_allclose(got, numpy_reconstruction(x, x_decoded), rtol=1e-5)
    # A fully wrong, saturated pixel costs -log(eps) ≈ 16.1 nats, not infinity.
    one_pixel = np.zeros((1, 28, 28, 1), np.float32)
    prediction = one_pixel.copy()
    one_pixel[0, 5, 5, 0] = 1.0
    cost = as_numpy(reconstruction_loss(one_pixel, prediction))[0]
    np.testing.assert_allclose(cost, -np.log(1e-7) + 783 * -np.log(1.0 - 1e-7), rtol=1e-5)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_kl_divergence_per_image(tensors, reduction):
    _, _, z_mean, z_log_var = tensors
    per_dim = numpy_kl_per_dim(z_mean, z_log_var)
    want = per_dim.mean(axis=1) if reduction == "mean" else per_dim.sum(axis=1)
    got = as_numpy(kl_divergence(z_mean, z_log_var, reduction))
    assert got.shape == (BATCH,)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_kl_is_zero_at_the_prior_and_positive_elsewhere(tensors):
    _, _, z_mean, z_log_var = tensors
    zeros = np.zeros((4, LATENT), np.float32)
    np.testing.assert_allclose(as_numpy(kl_divergence(zeros, zeros, "sum")), 0.0, atol=1e-7)
    assert np.all(as_numpy(kl_divergence(z_mean, z_log_var, "sum")) > 0)


@pytest.mark.parametrize("bad", ["median", "max", "", None, "SUM"])
def test_invalid_reduction_raises(tensors, bad):
    _, _, z_mean, z_log_var = tensors
    with pytest.raises(ValueError, match="kl_reduction"):
        kl_divergence(z_mean, z_log_var, bad)
    with pytest.raises(ValueError, match="kl_reduction"):
        vae_loss_terms(*tensors, kl_reduction=bad)
