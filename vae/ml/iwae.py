"""The importance-weighted bound on log p(x) (Burda et al., IWAE), with K samples of q(z|x).

  log p(x) ≥ log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x),   z_k ~ q(z|x)

K = 1 is the ELBO; the bound tightens as K grows. Each image costs K decodes, so
images go through in chunks of `decode_batch` latents to keep memory bounded.
The log-sum-exp is done in float64: the log-weights of one image spread over
hundreds of nats. The terms come from vae.ml.likelihood, as the ELBO's do.
"""
import numpy as np

from vae.ml.likelihood import bce, log_normal, logsumexp


def log_likelihood_function(model):
    """A traced (x (b, rows, cols), z (b, k, d)) → log p(x|z) of shape (b, k).

    Decoding and the pixel sum run in one TensorFlow call: in NumPy the two logs
    over b·k·(rows·cols) pixels cost as much as the decoder itself. The Bernoulli
    terms are vae.ml.likelihood's, as in evaluate's ELBO.
    """
    import tensorflow as tf
    from keras import ops
    decoder = model.decoder

    @tf.function(reduce_retracing=True)
    def log_px_z(x, z):
        b, k = tf.shape(z)[0], tf.shape(z)[1]
        p = tf.reshape(decoder(tf.reshape(z, (b * k, -1)), training=False), (b, k, -1))
        return -tf.reduce_sum(bce(tf.reshape(x, (b, 1, -1)), p, xp=ops), axis=-1)
    return log_px_z


def iwae_log_likelihood(model, images, k=1000, seed=0, decode_batch=16384, progress=False):
    """Per-image IWAE estimate of log p(x) in nats (float64, shape (n,)).

    images: uint8 (n, rows, cols) or float in [0, 1]. `progress`: a bar with rate and ETA
    on stderr when it is a terminal (tqdm; none when piped).
    """
    from tqdm import tqdm

    from vae.data.arrays import to_model_input
    from vae.ml.model import encode_all
    rng = np.random.default_rng(seed)
    x = to_model_input(images)[..., 0].astype("float32")
    z_mean, z_log_var = (a.astype("float64") for a in encode_all(model, images))
    per_chunk = max(1, decode_batch // k)  # images whose K samples fit one decode batch
    log_px_z = log_likelihood_function(model)
    out = np.empty(len(x), dtype="float64")
    with tqdm(total=len(x), desc=f"IWAE, K = {k}", unit="image", disable=None if progress else True) as bar:
        for start in range(0, len(x), per_chunk):
            stop = min(start + per_chunk, len(x))
            mean, log_var = z_mean[start:stop, None], z_log_var[start:stop, None]  # (b, 1, d)
            z = mean + np.exp(0.5 * log_var) * rng.standard_normal((stop - start, k, mean.shape[-1]))
            log_w = (log_px_z(x[start:stop], z.astype("float32")).numpy().astype("float64")
                     + log_normal(z, 0.0, 0.0) - log_normal(z, mean, log_var))
            out[start:stop] = logsumexp(log_w, axis=1) - np.log(k)
            bar.update(stop - start)
    return out


def iwae_metrics(model, images, k=1000, seed=0, progress=False):
    """Mean IWAE negative log-likelihood over `images` with its standard error over images."""
    nll = -iwae_log_likelihood(model, images, k, seed, progress=progress)
    return {"iwae_nll": float(nll.mean()),
            "iwae_stderr": float(nll.std(ddof=1) / np.sqrt(len(nll))) if len(nll) > 1 else float("nan"),
            "iwae_k": int(k), "iwae_images": int(len(nll))}
