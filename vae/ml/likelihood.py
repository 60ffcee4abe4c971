"""The VAE's likelihood terms, written once: Bernoulli pixels, a Gaussian q(z|x), the N(0, I) prior.

  bce(x, p)          = −[x log p + (1 − x) log(1 − p)] per pixel, p clipped to [EPS, 1 − EPS]
  kl_per_dim(μ, lv)  = KL(N(μ, exp(lv)) ‖ N(0, 1)) = −½ (1 + lv − μ² − exp(lv)) per latent dim
  log_normal(z, μ, lv) = log N(z; μ, exp(lv)), summed over the last axis
  logsumexp(a)       = log Σ exp(a), stable

vae.ml.loss (training, on Keras tensors), vae.evaluate (the held-out ELBO) and vae.ml.iwae (the
importance-weighted bound) all take them from here. The functions that run on tensors take
`xp`, the array namespace: NumPy by default, `keras.ops` for tensors. This module imports
NumPy only.

EPS is the clip Keras' binary cross-entropy applies to probabilities, so the held-out
numbers equal `keras.ops.binary_crossentropy` on the decoded images. Training itself calls
Keras' own binary cross-entropy, as the reference post does: on the output of a sigmoid
layer Keras works from the logits and clips nothing.
"""
import numpy as np

EPS = 1e-7  # keras.backend.epsilon()
LOG_2PI = float(np.log(2.0 * np.pi))


def per_image(values, xp=np):
    """Sum over every axis but the first: (n, ...) → (n,)."""
    return xp.sum(xp.reshape(values, (xp.shape(values)[0], -1)), axis=1)


def bce(x, p, xp=np):
    """Per-pixel binary cross-entropy of targets x in [0, 1] under Bernoulli probabilities p."""
    p = xp.clip(p, EPS, 1.0 - EPS)
    return -(x * xp.log(p) + (1.0 - x) * xp.log(1.0 - p))


def bce_per_image(x, p, xp=np):
    """−log p(x|z) per image, in nats: the pixels' BCE summed."""
    return per_image(bce(x, p, xp), xp)


def kl_per_dim(z_mean, z_log_var, xp=np):
    """KL(q(z|x) ‖ N(0, I)) per latent dimension, same shape as z_mean."""
    return -0.5 * (1.0 + z_log_var - z_mean * z_mean - xp.exp(z_log_var))


def kl_per_image(z_mean, z_log_var, xp=np):
    """The KL summed over latent dims: the ELBO's KL term, shape (n,)."""
    return xp.sum(kl_per_dim(z_mean, z_log_var, xp), axis=1)


def log_normal(z, mean, log_var):
    """log N(z; mean, exp(log_var)) summed over the last axis (NumPy, in the inputs' precision)."""
    return -0.5 * np.sum(LOG_2PI + log_var + (z - mean) ** 2 / np.exp(log_var), axis=-1)


def logsumexp(a, axis):
    """Stable log Σ exp(a) in float64; hand-written because SciPy is not a dependency."""
    a = np.asarray(a, dtype="float64")
    peak = a.max(axis=axis, keepdims=True)
    return np.squeeze(peak, axis) + np.log(np.exp(a - peak).sum(axis=axis))
