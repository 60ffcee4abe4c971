"""Two models' 2-D latent maps put side by side: B's codes rotated, reflected, scaled and shifted
onto A's by orthogonal Procrustes, fitted on the same test images' codes.

Two VAEs trained apart may organise the same classes alike, yet land them turned, mirrored or
stretched: the prior N(0, I) is the same under any rotation or reflection. The fit removes just
those freedoms (a similarity: s·R with R orthogonal, plus a shift) and its residual says how much
of the difference is left, the part that is a real difference in organisation:

  aligned(B) = s · (B − mean B) · R + mean A
  residual   = ‖s · (B − mean B) · R − (A − mean A)‖ / ‖A − mean A‖     (Frobenius norms)

0 means B is A turned, mirrored and scaled; about 1 means the fit explains nothing (codes with no
relation to A's give 1 − O(1/√n)). A small NumPy SVD (the textbook solution, as
scipy.linalg.orthogonal_procrustes computes R) keeps SciPy out of the page's imports.
"""
import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Alignment:
    """The similarity that carries B's codes onto A's, and how well it does."""
    rotation: np.ndarray  # (d, d) orthogonal: a rotation, or a rotation with a reflection
    scale: float
    mean_from: np.ndarray  # (d,) the mean of B's codes
    mean_to: np.ndarray  # (d,) the mean of A's codes
    residual: float  # ‖aligned B − A‖ / ‖A‖, both centred

    @property
    def reflected(self):
        return bool(np.linalg.det(self.rotation) < 0)

    @property
    def angle_degrees(self):
        """The rotation's angle (after the reflection about z[0]'s axis, when reflected), in (−180, 180]."""
        r = self.rotation if not self.reflected else np.diag([1.0, -1.0]) @ self.rotation
        return float(np.degrees(np.arctan2(r[0, 1], r[0, 0])))

    def apply(self, codes_b):
        """B's codes (n, d) in A's frame."""
        return self.scale * (np.asarray(codes_b, "float64") - self.mean_from) @ self.rotation + self.mean_to

    def invert(self, codes_a):
        """Points of A's frame (n, d) back in B's: where B decodes what A's map shows there."""
        return (np.asarray(codes_a, "float64") - self.mean_to) @ self.rotation.T / self.scale + self.mean_from

    def as_json(self):
        """What the page's compare view needs to map points both ways."""
        return {"rotation": self.rotation.tolist(), "scale": self.scale, "mean_from": self.mean_from.tolist(),
                "mean_to": self.mean_to.tolist(), "residual": self.residual}


def _checked(codes, name):
    codes = np.asarray(codes, dtype="float64")
    if codes.ndim != 2 or len(codes) < codes.shape[1] + 1:
        raise ValueError(f"{name} must be (n, d) codes with n > d, got shape {codes.shape}")
    if not np.all(np.isfinite(codes)):
        raise ValueError(f"{name} holds a NaN or an infinity")
    return codes


def fit_procrustes(codes_a, codes_b):
    """The Alignment taking `codes_b` onto `codes_a`: row i of each is the same test image."""
    a, b = _checked(codes_a, "A's codes"), _checked(codes_b, "B's codes")
    if a.shape != b.shape:
        raise ValueError(f"A's and B's codes must be of the same images: shapes {a.shape} and {b.shape}")
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    a0, b0 = a - mean_a, b - mean_b
    norm_a, norm_b = np.linalg.norm(a0), np.linalg.norm(b0)
    if norm_a == 0 or norm_b == 0:
        raise ValueError("one model puts every test image at the same code: there is no map to align")
    u, singular, vt = np.linalg.svd(b0.T @ a0)
    rotation = u @ vt  # maximises trace(Rᵀ B0ᵀ A0) over orthogonal R: rotation and reflection both allowed
    scale = float(singular.sum() / norm_b ** 2)  # the least-squares scale once R is fixed
    residual = float(np.linalg.norm(scale * b0 @ rotation - a0) / norm_a)
    return Alignment(rotation=rotation, scale=scale, mean_from=mean_b, mean_to=mean_a, residual=residual)
