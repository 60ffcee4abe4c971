"""Everything the explorer page asks of one model, without Streamlit.

An `Explorer` holds a loaded model, the held-out test set and its latent
codes (computed once per model), and answers the page's questions: decode
this point, where does this image land, what does this point look like.
"""
import dataclasses
from pathlib import Path

import numpy as np

from vae import knn
from vae.data import load_arrays, to_model_input
from vae.latent import latent_extent
from vae.model import encode_all, load_vae
from vae.store import MODEL_FILE, read_metadata

LOOKS_LIKE_K = 10


@dataclasses.dataclass
class LooksLike:
    label: int  # majority label among the nearest test digits
    share: float  # fraction of neighbours that carry it
    neighbours: np.ndarray  # test-set indices, nearest first


@dataclasses.dataclass
class Explorer:
    name: str
    model_dir: Path
    metadata: dict
    model: object
    x_test: np.ndarray  # uint8 (10000, 28, 28)
    y_test: np.ndarray
    z_test: np.ndarray  # z_mean of every test digit
    z_test_log_var: np.ndarray
    _extent: list | None = None

    @property
    def latent_dim(self):
        return self.z_test.shape[1]

    def extent(self):
        """[(lo, hi) per latent axis]: a square covering where the test digits live."""
        if self._extent is None:
            lo, hi = latent_extent(self.z_test, quantile=0.002, pad=0.08)
            self._extent = [(round(a, 2), round(b, 2)) for a, b in zip(lo, hi)]
        return self._extent

    def decode(self, z):
        """(n, d) latent points → (n, 28, 28) images in [0, 1]."""
        return self.model.decode(np.atleast_2d(np.asarray(z, dtype="float32")))

    def decode_one(self, z):
        return self.decode(z)[0]

    def encode(self, image):
        """One (28, 28) image in [0, 1] or uint8 → (z_mean, z_log_var), each (d,)."""
        z_mean, z_log_var = self.model.encode(to_model_input(image))
        return z_mean[0], z_log_var[0]

    def reconstruct(self, image):
        """Decode the mean code of `image`: what the model keeps of it."""
        z_mean, _ = self.encode(image)
        return self.decode_one(z_mean)

    def looks_like(self, z, k=LOOKS_LIKE_K):
        idx = knn.nearest(self.z_test, np.asarray(z, dtype="float32")[None], k)[0]
        labels = self.y_test[idx]
        label = int(knn.vote(labels[None])[0])
        return LooksLike(label, float(np.mean(labels == label)), idx)


def load_explorer(model_dir, arrays=None):
    model_dir = Path(model_dir)
    arrays = arrays if arrays is not None else load_arrays()
    model = load_vae(model_dir / MODEL_FILE)
    if model.latent_dim != 2:  # the pad, maps and grid are planes
        raise ValueError(f"the explorer shows 2-D latent spaces; {model_dir.name} has {model.latent_dim} dims")
    z_mean, z_log_var = encode_all(model, arrays["x_test"])
    return Explorer(name=model_dir.name, model_dir=model_dir, metadata=read_metadata(model_dir),
                    model=model, x_test=arrays["x_test"], y_test=arrays["y_test"],
                    z_test=z_mean, z_test_log_var=z_log_var)
