"""Held-out metrics of a model, in nats per image on its dataset's test set.

  neg_elbo       = reconstruction + kl   (the true ELBO: KL summed over dims)
  reconstruction = E_q[-log p(x|z)], pixel BCE summed, one z sample per image
  kl             = KL(q(z|x) || N(0, I)), summed over latent dims
  knn5_accuracy  = 5-NN on z_mean, fit on the training split, scored on test
  iwae_nll       = -(IWAE bound on log p(x)) with K samples (vae.ml.iwae), ≤ neg_elbo,
                   with iwae_stderr, its standard error over the test images

By default it measures the ELBO and the 5-NN accuracy, a few seconds after TensorFlow has
loaded. The IWAE bound costs K decodes per image, minutes on a CPU: it runs when asked,
with a progress bar on a terminal (stderr; none when piped, so --json stays one line).
`python -m vae.evaluate` (vae/evaluate.py) prints them for a saved version.
"""
import numpy as np

from vae.ml.likelihood import bce_per_image, kl_per_image


def elbo_terms(model, images, seed=0, batch=2048):
    """Per-image (reconstruction, kl) in nats, with one seeded z sample each."""
    from vae.data.arrays import to_model_input
    from vae.ml.model import encode_all
    rng = np.random.default_rng(seed)
    z_mean, z_log_var = encode_all(model, images, batch)
    z = z_mean + np.exp(0.5 * z_log_var) * rng.standard_normal(z_mean.shape).astype("float32")
    recon = np.empty(len(images), dtype="float64")
    for start in range(0, len(images), batch):
        x = to_model_input(images[start:start + batch])[..., 0]
        recon[start:start + batch] = bce_per_image(x, model.decode(z[start:start + batch]))
    return recon, kl_per_image(z_mean.astype("float64"), z_log_var.astype("float64")), z_mean


def evaluate(model, arrays, seed=0, spec=None, iwae_k=0, iwae_images=None, progress=False):
    """The held-out metrics for `model` on the verified `arrays` of dataset `spec`
    (a DatasetSpec or name; None is the default dataset). With iwae_k > 0, also the
    IWAE bound with K = iwae_k on the first `iwae_images` test images (None: all);
    `progress` shows its bar on a terminal."""
    from vae.data.datasets import get_dataset
    from vae.ml.knn import knn_accuracy
    from vae.ml.model import encode_all
    spec = get_dataset(spec)
    recon, kl, z_test = elbo_terms(model, arrays["x_test"], seed)
    z_train, _ = encode_all(model, arrays["x_train"])
    return {
        "neg_elbo": float(np.mean(recon + kl)),
        "reconstruction": float(np.mean(recon)),
        "kl": float(np.mean(kl)),
        "knn5_accuracy": knn_accuracy(z_train, arrays["y_train"], z_test, arrays["y_test"], k=5,
                                      n_classes=spec.n_classes),
        **(iwae_of(model, arrays, iwae_k, iwae_images, seed, progress) if iwae_k else {}),
    }


def iwae_of(model, arrays, k, n_images=None, seed=0, progress=False):
    from vae.ml.iwae import iwae_metrics
    return iwae_metrics(model, arrays["x_test"][:n_images], k=k, seed=seed, progress=progress)
