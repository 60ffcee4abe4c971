"""The VAE objective, as the reference writes it, plus the true ELBO.

The reference averages the KL term over latent dimensions. That is not the
ELBO (which sums them): it halves the weight of KL for a 2-D latent. We keep it
as the default "reference" loss for faithfulness, and always report the true
ELBO next to it.
"""
from keras import ops

from vae.ml import likelihood
from vae.ml.config import KL_REDUCTIONS


def reconstruction_loss(x, x_decoded):
    """Per-image sum of pixel binary cross-entropy, shape (batch,).

    Keras' own BCE, as the reference calls it, keeps training on the reference's numbers:
    on a sigmoid layer's output it works from the logits (see vae.ml.likelihood).
    """
    return likelihood.per_image(ops.binary_crossentropy(x, x_decoded), ops)


def kl_divergence(z_mean, z_log_var, reduction="mean"):
    """KL(q(z|x) || N(0, I)) per image, shape (batch,), reduced over latent dims."""
    per_dim = likelihood.kl_per_dim(z_mean, z_log_var, ops)
    if reduction == "mean":
        return ops.mean(per_dim, axis=1)
    if reduction == "sum":
        return ops.sum(per_dim, axis=1)
    raise ValueError(f"kl_reduction must be one of {KL_REDUCTIONS}, got {reduction!r}")


def vae_loss_terms(x, x_decoded, z_mean, z_log_var, kl_reduction="mean", beta=1.0):
    """Batch means of the training loss and its parts, plus the true -ELBO.

    Returns a dict with total (what we optimise), reconstruction, kl (as
    optimised), and neg_elbo (reconstruction + KL summed over dims).
    """
    reconstruction = ops.mean(reconstruction_loss(x, x_decoded))
    kl = ops.mean(kl_divergence(z_mean, z_log_var, kl_reduction))
    kl_sum = ops.mean(kl_divergence(z_mean, z_log_var, "sum"))
    return {
        "loss": reconstruction + beta * kl,
        "reconstruction_loss": reconstruction,
        "kl_loss": kl,
        "neg_elbo": reconstruction + kl_sum,
    }
