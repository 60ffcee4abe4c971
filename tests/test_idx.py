"""IDX parsing: good files load; wrong magic numbers, sizes and truncated files are refused."""
import gzip
import struct

import numpy as np
import pytest

from vae.data import idx
from vae.data.idx import IdxError, read_images, read_labels, read_split_dir


def idx_bytes(magic, array):
    return struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write(path, raw):
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as f:
            f.write(raw)
    else:
        path.write_bytes(raw)
    return path


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)


@pytest.mark.parametrize("name", ["images.idx3-ubyte", "images.idx3-ubyte.gz"])
def test_images_round_trip_plain_and_gzipped(tmp_path, images, name):
    path = write(tmp_path / name, idx_bytes(idx.IMAGES_MAGIC, images))
    np.testing.assert_array_equal(read_images(path), images)


def test_labels_round_trip(tmp_path):
    labels = np.arange(7, dtype=np.uint8)
    path = write(tmp_path / "labels.gz", idx_bytes(idx.LABELS_MAGIC, labels))
    np.testing.assert_array_equal(read_labels(path), labels)


def test_labels_file_read_as_images_is_refused_by_magic(tmp_path):
    path = write(tmp_path / "labels.gz", idx_bytes(idx.LABELS_MAGIC, np.zeros(5, np.uint8)))
    with pytest.raises(IdxError, match="magic number 0x00000801, expected 0x00000803"):
        read_images(path)


def test_images_file_read_as_labels_is_refused_by_magic(tmp_path, images):
    path = write(tmp_path / "images.gz", idx_bytes(idx.IMAGES_MAGIC, images))
    with pytest.raises(IdxError, match="magic"):
        read_labels(path)


def test_garbage_magic_is_refused(tmp_path, images):
    path = write(tmp_path / "images", idx_bytes(0x12345678, images))
    with pytest.raises(IdxError, match="0x12345678"):
        read_images(path)


def test_truncated_body_is_refused(tmp_path, images):
    raw = idx_bytes(idx.IMAGES_MAGIC, images)
    path = write(tmp_path / "short.gz", raw[:-100])
    with pytest.raises(IdxError, match="truncated"):
        read_images(path)


def test_truncated_header_is_refused(tmp_path):
    path = write(tmp_path / "header", struct.pack(">II", idx.IMAGES_MAGIC, 5))
    with pytest.raises(IdxError, match="truncated header"):
        read_images(path)


def test_cut_off_gzip_stream_is_refused(tmp_path, images):
    good = write(tmp_path / "good.gz", idx_bytes(idx.IMAGES_MAGIC, images)).read_bytes()
    path = tmp_path / "cut.gz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(IdxError, match="truncated"):
        read_images(path)


def test_wrong_image_size_is_refused(tmp_path):
    small = np.zeros((3, 16, 16), np.uint8)
    path = write(tmp_path / "small.gz", idx_bytes(idx.IMAGES_MAGIC, small))
    with pytest.raises(IdxError, match=r"\(16, 16\), expected \(20, 20\)"):
        read_images(path, image_shape=(20, 20))
    np.testing.assert_array_equal(read_images(path, image_shape=(16, 16)), small)
    np.testing.assert_array_equal(read_images(path), small)  # no shape asked: the header's


def release_dir(tmp_path, n_train=4, n_test=3, n_test_labels=3):
    rng = np.random.default_rng(1)
    arrays = {"x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
              "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "y_test": rng.integers(0, 10, n_test_labels, dtype=np.uint8)}
    for key, name in idx.SPLIT_FILES.items():
        magic = idx.IMAGES_MAGIC if key.startswith("x") else idx.LABELS_MAGIC
        write(tmp_path / name, idx_bytes(magic, arrays[key]))
    return arrays


def test_cli_writes_the_npz_with_the_keys_of_mnist(tmp_path):
    arrays = release_dir(tmp_path)
    dest = tmp_path / "out.npz"
    assert idx.main([str(tmp_path), str(dest)]) == 0
    with np.load(dest, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(idx.SPLIT_FILES)
        for key, value in arrays.items():
            np.testing.assert_array_equal(npz[key], value)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []


def test_test_images_must_be_shaped_as_training_ones(tmp_path):
    release_dir(tmp_path)
    write(tmp_path / idx.SPLIT_FILES["x_test"], idx_bytes(idx.IMAGES_MAGIC, np.zeros((3, 16, 16), np.uint8)))
    with pytest.raises(IdxError, match=r"test images are \(16, 16\), training images \(28, 28\)"):
        read_split_dir(tmp_path)


def test_the_cli_checks_a_datasets_own_file_against_its_spec(tmp_path, monkeypatch, capsys):
    import dataclasses
    from vae.data.arrays import content_hash
    from vae.data.datasets import DATASETS, MNIST
    arrays = release_dir(tmp_path)
    dest = tmp_path / "toy.npz"
    toy = dataclasses.replace(MNIST, name="toy", file=dest, content_sha256=content_hash(arrays))
    monkeypatch.setitem(DATASETS, "toy", toy)
    assert idx.main([str(tmp_path), str(dest)]) == 0
    assert "(the MNIST spec's)" in capsys.readouterr().out
    monkeypatch.setitem(DATASETS, "toy", dataclasses.replace(toy, image_shape=(16, 16)))
    assert idx.main([str(tmp_path), str(dest)]) == 2
    assert "expected (16, 16)" in capsys.readouterr().err


def test_images_and_labels_of_a_split_must_count_alike(tmp_path):
    release_dir(tmp_path, n_test=3, n_test_labels=2)
    with pytest.raises(IdxError, match="3 test images but 2 labels"):
        read_split_dir(tmp_path)
    assert idx.main([str(tmp_path), str(tmp_path / "x.npz")]) == 2
    assert not (tmp_path / "x.npz").exists()
