"""Orthogonal Procrustes (vae.ml.procrustes): B's map onto A's, and the fit's residual."""
import numpy as np
import pytest

from vae.ml.procrustes import fit_procrustes


def rotation(degrees):
    t = np.radians(degrees)
    return np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])


@pytest.fixture
def codes_a():
    rng = np.random.default_rng(0)  # clustered like a latent map, not a round blob
    centres = rng.normal(scale=2.0, size=(10, 2))
    return centres[rng.integers(0, 10, 2000)] + rng.normal(scale=0.3, size=(2000, 2))


@pytest.mark.parametrize("degrees, reflect", [(37.0, False), (-120.0, True), (180.0, True)])
def test_a_known_rotation_reflection_scale_and_shift_is_recovered(codes_a, degrees, reflect):
    mirror = np.diag([1.0, -1.0]) if reflect else np.eye(2)
    truth = mirror @ rotation(degrees)  # B = A·truth·2.5 + shift
    codes_b = 2.5 * codes_a @ truth + np.array([3.0, -1.0])
    fit = fit_procrustes(codes_a, codes_b)
    assert fit.residual < 1e-10
    assert fit.scale == pytest.approx(1 / 2.5)
    np.testing.assert_allclose(fit.rotation, truth.T, atol=1e-10)  # the inverse of what was done
    assert fit.reflected is reflect
    np.testing.assert_allclose(fit.apply(codes_b), codes_a, atol=1e-9)
    np.testing.assert_allclose(fit.invert(codes_a), codes_b, atol=1e-9)


def test_the_angle_is_reported(codes_a):
    fit = fit_procrustes(codes_a, codes_a @ rotation(30.0).T)  # B is A turned by −30°
    assert fit.angle_degrees == pytest.approx(30.0) and not fit.reflected


def test_noise_raises_the_residual_in_proportion(codes_a):
    rng = np.random.default_rng(1)
    small = fit_procrustes(codes_a, codes_a @ rotation(50) + rng.normal(scale=0.05, size=codes_a.shape))
    assert 0.005 < small.residual < 0.05


def test_unrelated_codes_leave_a_large_residual(codes_a):
    """The control: a fit that could explain anything would pass the tests above too."""
    unrelated = np.random.default_rng(2).normal(size=codes_a.shape)
    assert fit_procrustes(codes_a, unrelated).residual > 0.9
    shuffled = np.random.default_rng(3).permutation(codes_a)  # the same map, other images
    assert fit_procrustes(codes_a, shuffled).residual > 0.9


@pytest.mark.parametrize("b, message", [
    (np.zeros((5, 2)), "same code"),
    (np.ones((4, 2)), "same images"),
    (np.array([[np.nan, 0.0]] * 5), "NaN"),
    (np.zeros(5), r"\(n, d\)"),
])
def test_bad_codes_are_refused_with_a_clear_message(b, message):
    a = np.random.default_rng(4).normal(size=(5, 2))
    with pytest.raises(ValueError, match=message):
        fit_procrustes(a, b)
