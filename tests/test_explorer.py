"""The explorer's questions, answered without Streamlit, on a fake model with known answers."""
import concurrent.futures

import numpy as np
import pytest

from vae.data.datasets import MNIST
from vae.explorer import Explorer
from vae.store.versions import Version

from helpers import looks_like


class EchoModel:
    """decode(z) paints z[0] into every pixel; encode(x) returns the image mean as both coords."""

    def decode(self, z):
        return np.repeat(np.asarray(z)[:, :1, None], 28, axis=1).repeat(28, axis=2)

    def encode(self, x):
        m = np.asarray(x).reshape(len(x), -1).mean(axis=1)
        return np.stack([m, m], axis=1), np.full((len(x), 2), -1.0)


@pytest.fixture
def explorer():
    rng = np.random.default_rng(0)
    centres = np.array([[-3, 0], [3, 0], [0, 3]], dtype="float32")
    labels = np.repeat([4, 7, 9], 1000).astype(np.uint8)
    z = centres[np.repeat([0, 1, 2], 1000)] + rng.normal(0, 0.3, (3000, 2)).astype("float32")
    z[5] = [50, 50]  # one wild encoding must not stretch the pad
    loaded = concurrent.futures.Future()
    loaded.set_result(EchoModel())
    version = Version(name="fake", path=None, metadata={}, dataset=MNIST, arch="reference")
    return Explorer(version=version, x_test=np.zeros((3000, 28, 28), np.uint8), y_test=labels, z_test=z,
                    z_test_log_var=np.zeros_like(z), decoder_description={}, encoder_description={},
                    _model_future=loaded)


@pytest.mark.parametrize("point, label", [((-3, 0), 4), ((3.1, -0.2), 7), ((0.2, 2.8), 9)])
def test_looks_like_reads_the_labels_of_the_nearest_digits(explorer, point, label):
    looks = looks_like(explorer, np.array(point, dtype="float32"))
    assert looks.label == label
    assert looks.share == pytest.approx(1.0)
    d = np.linalg.norm(explorer.z_test[looks.neighbours] - np.array(point), axis=1)
    assert np.all(np.diff(d) >= 0), "neighbours come nearest first"
    others = np.setdiff1d(np.arange(3000), looks.neighbours)
    assert d.max() <= np.linalg.norm(explorer.z_test[others] - np.array(point), axis=1).min()


def test_looks_like_share_on_a_border(explorer):
    looks = looks_like(explorer, np.array([0.0, 0.0], dtype="float32"), k=3000)
    assert looks.share == pytest.approx(1000 / 3000)


def test_extent_covers_the_data_but_ignores_an_outlier(explorer):
    (x0, x1), (y0, y1) = explorer.extent()
    assert x0 < -3.5 and x1 > 3.5 and y0 < -0.5 and y1 > 3.5
    assert x1 < 20 and y1 < 20, "a single stray code does not set the scale"
    assert x1 - x0 == pytest.approx(y1 - y0, abs=0.02), "square, so both axes read alike"


def test_decode_and_encode_shapes(explorer):
    images = explorer.decode([[0.25, 0.0], [0.75, 1.0]])
    assert images.shape == (2, 28, 28) and images[1, 5, 5] == pytest.approx(0.75)
    assert explorer.decode_one([0.5, 0.0])[0, 0] == pytest.approx(0.5)
    z_mean, z_log_var = explorer.encode(np.full((28, 28), 255, np.uint8))
    assert z_mean.shape == (2,) and z_mean[0] == pytest.approx(1.0)
    z_mean, _ = explorer.encode(np.full((28, 28), 51, np.uint8))
    assert explorer.decode_one(z_mean)[0, 0] == pytest.approx(0.2)  # the mean code, decoded
