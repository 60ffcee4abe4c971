"""Dataset facts live in the spec: a toy dataset of another size and class count goes end to end.

The toy dataset (16x16 images, 3 classes) is registered by a fixture with its data
file in tmp: if any library code assumed MNIST's 28x28 or 10 classes, these fail.
"""
import json

import numpy as np
import pytest

from vae import evaluate, train
from vae.ml import fit
from vae.ml.metrics import evaluate as evaluate_model
from vae.ml.config import TrainConfig
from vae.data import datasets
from vae.explorer import figures
from vae.store import disk
from vae.ml.config import recorded_arch, recorded_dataset
from vae.data.arrays import DataError, content_hash, load_arrays
from vae.data.datasets import DATASETS, DEFAULT_DATASET, DatasetSpec, get_dataset
from vae.ml.model import load_vae

TOY_SHAPE = (16, 16)
TOY_CLASSES = ("bar", "column", "box")


def toy_images(labels, rng):
    """A horizontal bar, a vertical bar or a hollow box, jittered, per label."""
    images = np.zeros((len(labels), *TOY_SHAPE), dtype=np.uint8)
    for image, label in zip(images, labels):
        a, b = rng.integers(3, 6, 2)
        if label == 0:
            image[7 + a - 4:9 + a - 4, b:16 - b] = 255
        elif label == 1:
            image[b:16 - b, 7 + a - 4:9 + a - 4] = 255
        else:
            image[a:16 - a, a:16 - a] = 255
            image[a + 2:14 - a, a + 2:14 - a] = 0
    return images


@pytest.fixture
def toy(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    y_train, y_test = rng.integers(0, 3, 240).astype(np.uint8), rng.integers(0, 3, 60).astype(np.uint8)
    arrays = {"x_train": toy_images(y_train, rng), "y_train": y_train,
              "x_test": toy_images(y_test, rng), "y_test": y_test}
    path = tmp_path / "toy.npz"
    np.savez_compressed(path, **arrays)
    spec = DatasetSpec(name="toy", title="Toy shapes", file=path, content_sha256=content_hash(arrays),
                       image_shape=TOY_SHAPE, class_names=TOY_CLASSES,
                       class_colors=("#111111", "#aa0000", "#00aa00"), item_noun="shape",
                       drawable=False, credit="made by the test", licence="CC0",
                       n_train=240, n_test=60)
    monkeypatch.setitem(DATASETS, spec.name, spec)
    return spec


@pytest.mark.trainer
def test_toy_dataset_trains_evaluates_and_reloads_through_the_library(toy, tmp_path, capsys):
    out = tmp_path / "models" / "toy-model"
    assert train.main(["--dataset", "toy", "--epochs", "2", "--batch-size", "32", "--kl-reduction", "sum",
                       "--out", str(out), "--quiet"]) == 0
    meta = disk.read_metadata(out)
    assert meta["dataset"] == meta["options"]["dataset"] == "toy"
    assert meta["arch"] == meta["options"]["arch"] == "reference"
    assert meta["data_sha256"] == toy.content_sha256
    assert meta["train_images"] + meta["val_images"] == toy.n_train
    assert 0.0 <= meta["metrics"]["knn5_accuracy"] <= 1.0

    model = load_vae(out / disk.MODEL_FILE)
    assert model.image_shape == TOY_SHAPE
    assert model.decode(np.zeros((4, 2), "float32")).shape == (4, *TOY_SHAPE)

    capsys.readouterr()
    assert evaluate.main(["--model", str(out), "--json", "--iwae-k", "20"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["dataset"] == "toy" and metrics["iwae_k"] == 20 and metrics["iwae_images"] == toy.n_test
    assert metrics["iwae_neg_log_likelihood"] <= metrics["neg_elbo"] + 1.0  # one-sample ELBO is noisy


@pytest.mark.trainer
def test_large_architecture_fits_the_toy_shape(toy):
    arrays = load_arrays(dataset="toy")
    config = TrainConfig(dataset="toy", arch="large", epochs=1, batch_size=64)
    model, summary = fit.fit(config, arrays, verbose=0)
    assert model.arch == "large" and model.image_shape == TOY_SHAPE
    metrics = evaluate_model(model, arrays, spec=toy)
    assert np.isfinite(metrics["neg_elbo"])


def test_knn_votes_over_the_spec_classes_only(toy):
    from vae.ml.knn import vote
    votes = vote(np.array([[2, 2, 1, 0, 0]]), n_classes=toy.n_classes)
    assert votes.tolist() == [2]
    with pytest.raises(IndexError):
        vote(np.array([[3, 3, 3]]), n_classes=toy.n_classes)  # no class 3 in this dataset


def test_figures_take_classes_colours_and_nouns_from_the_spec(toy):
    z = np.random.default_rng(0).normal(size=(30, 2))
    labels = np.arange(30) % 3
    fig = figures.map_figure(z, labels, [(-3, 3), (-3, 3)], spec=toy)
    class_traces = fig.data[:-2]
    assert [t.name for t in class_traces] == list(TOY_CLASSES)
    assert [t.marker.color for t in class_traces] == list(toy.class_colors)
    assert class_traces[0].hovertemplate.startswith("shape bar")
    assert fig.data[-1].name == "your shape" and fig.layout.legend.title.text == "shape"
    figures.set_overlays(fig, highlight=(0.5, 0.5))
    assert list(fig.data[-1].x) == [0.5]
    assert len(figures.preview_scatter(z, labels, 1, spec="toy").data) == 3


def test_figures_without_a_spec_draw_the_default_dataset():
    z = np.zeros((10, 2))
    fig = figures.map_figure(z, np.arange(10), [(-1, 1), (-1, 1)])
    assert [t.name for t in fig.data[:10]] == list(get_dataset().class_names)
    assert [t.marker.color for t in fig.data[:10]] == list(get_dataset().class_colors)


def test_registry_and_lookups():
    assert DEFAULT_DATASET == "mnist" and set(DATASETS) >= {"mnist", "fashion-mnist"}
    fashion = get_dataset("fashion-mnist")
    assert fashion.n_classes == 10 and fashion.class_names[9] == "Ankle boot"
    assert (fashion.drawable, datasets.MNIST.drawable) == (False, True)
    assert get_dataset(fashion) is fashion and get_dataset(None) is datasets.MNIST
    with pytest.raises(ValueError, match="known datasets: mnist, fashion-mnist"):
        get_dataset("cifar")


def test_a_spec_needs_one_colour_per_class(toy):
    with pytest.raises(ValueError, match="3 classes but 2 colours"):
        DatasetSpec(**{**toy.__dict__, "class_colors": ("#000", "#111")})


def test_old_metadata_means_mnist_and_reference():
    assert (recorded_dataset({}), recorded_arch({"options": {}})) == ("mnist", "reference")
    assert recorded_dataset({"options": {"dataset": "fashion-mnist"}}) == "fashion-mnist"
    assert recorded_arch({"arch": "large", "options": {"arch": "large"}}) == "large"


def test_bundled_fashion_mnist_is_verified_and_balanced():
    arrays = load_arrays(dataset="fashion-mnist", allow_download=False)
    assert arrays["x_train"].shape == (60000, 28, 28) and arrays["x_test"].dtype == np.uint8
    assert np.bincount(arrays["y_train"]).tolist() == [6000] * 10
    assert np.bincount(arrays["y_test"]).tolist() == [1000] * 10


def test_a_damaged_toy_file_is_refused_naming_the_dataset(toy, tmp_path):
    arrays = load_arrays(dataset=toy)
    arrays["y_test"] = (arrays["y_test"] + 1) % 3
    path = tmp_path / "relabelled.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match="not the original Toy shapes"):
        load_arrays(path, dataset="toy")
