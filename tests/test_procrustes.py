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


# -- the compare view's parsing of ?compare= and its numbers (vae.explorer.compare)

from vae.explorer.compare import align_maps, class_rows, default_pair, metric_rows, parse_compare, per_class_knn  # noqa: E402

LISTED = ["reference", "fast", "mlp", "broken"]
DAMAGE = {"broken": "no model.keras"}


def test_a_good_compare_link_names_its_pair():
    request = parse_compare("reference,fast", LISTED, DAMAGE)
    assert (request.a, request.b, request.problem) == ("reference", "fast", None)
    assert parse_compare(" mlp , fast ", LISTED).a == "mlp"
    assert parse_compare(None, LISTED).problem is None


@pytest.mark.parametrize("raw, said", [
    ("reference", "two version names"),
    ("reference,", "two version names"),
    ("a,b,c", "two version names"),
    ("reference,reference", "twice"),
    ("reference,nope", "“nope”, which is not a version"),
    ("../x,reference", "names a name, which is not a version"),  # a path is never echoed
    ("<script>alert(1)</script>,fast", "names a name"),
    ("reference,broken", "damaged (no model.keras)"),
    ("x" * 5000, "5,000 characters"),
    ("", "two version names"),
])
def test_a_hostile_compare_link_gets_a_clear_message_and_no_pair(raw, said):
    request = parse_compare(raw, LISTED, DAMAGE)
    assert request.a is None and request.b is None and said in request.problem
    assert "<" not in request.problem and "../" not in request.problem


def test_the_default_pair_skips_the_active_and_the_damaged():
    assert default_pair("broken", ["broken", "reference"], DAMAGE) == ("broken", "reference")
    assert default_pair("reference", ["reference", "broken", "fast"], DAMAGE) == ("reference", "fast")
    assert default_pair("reference", ["reference"]) == ("reference", None)


def test_maps_of_the_same_images_are_aligned_and_of_other_images_are_not(codes_a):
    turned = codes_a @ rotation(90.0) * 3.0
    same = align_maps(codes_a, turned, same_test_set=True)
    assert same.fit.residual < 1e-9 and same.why_not is None
    other = align_maps(codes_a, turned, same_test_set=False)
    assert other.fit is None and "different datasets" in other.why_not
    assert other.extent_raw[0][1] - other.extent_raw[0][0] > same.extent_aligned[0][1] - same.extent_aligned[0][0]


def test_metric_rows_give_the_difference_and_the_better_side():
    a = {"metrics": {"neg_elbo": 150.0, "reconstruction": 140.0, "kl": 10.0, "knn5_accuracy": 0.70}}
    b = {"metrics": {"neg_elbo": 145.5, "reconstruction": 138.0, "kl": 7.5, "knn5_accuracy": 0.65}}
    rows = {r["metric"]: r for r in metric_rows(a, b)}
    assert rows["Test −ELBO (nats)"]["B − A"] == "−4.50" and rows["Test −ELBO (nats)"]["better"] == "B"
    assert rows["5-NN accuracy"]["B − A"] == "−5.0 points" and rows["5-NN accuracy"]["better"] == "A"
    assert len(metric_rows(a, {"metrics": {}})) == 0


def test_per_class_knn_finds_the_class_that_overlaps():
    rng = np.random.default_rng(5)
    labels = np.repeat([0, 1, 2], 200)
    codes = np.array([[0, 0], [0, 0.1], [9, 9]])[labels] + rng.normal(scale=0.3, size=(600, 2))
    knn0, knn1, knn2 = per_class_knn(codes, labels, 3)
    assert knn2 == 1.0 and knn0 < 0.8 and knn1 < 0.8  # 0 and 1 share a place; 2 stands apart
    rows = class_rows(["zero", "one", "two"], [knn0, knn1, knn2], [1.0, 1.0, 1.0])
    assert rows[2]["better"] == "same" and rows[0]["better"] == "B"
