"""The bundled MNIST: it loads, it is the real thing, and damaged copies are refused clearly.

Every damaged copy is written to a temporary directory: nothing here, or anywhere in the
project, writes data/mnist.npz.
"""
import hashlib
import struct
import zipfile

import numpy as np
import pytest

from vae.data import arrays as arrays_module
from vae.data.arrays import DataError, content_hash, load_arrays, to_model_input
from vae.data.datasets import MNIST

# Published MNIST class counts (digits 0..9)
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def arrays():
    return load_arrays(allow_download=False)


def test_bundled_file_loads_with_expected_shapes_and_dtypes(arrays):
    assert set(arrays) == {"x_train", "y_train", "x_test", "y_test"}
    assert arrays["x_train"].shape == (60000, 28, 28)
    assert arrays["y_train"].shape == (60000,)
    assert arrays["x_test"].shape == (10000, 28, 28)
    assert arrays["y_test"].shape == (10000,)
    for value in arrays.values():
        assert value.dtype == np.uint8
    assert arrays["x_train"].min() == 0 and arrays["x_train"].max() == 255
    assert set(np.unique(arrays["y_test"])) == set(range(10))


def test_label_counts_match_the_published_ones(arrays):
    assert np.bincount(arrays["y_train"], minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(arrays["y_test"], minlength=10).tolist() == TEST_COUNTS


def test_content_hash_is_sha256_of_the_arrays_in_order(arrays):
    digest = hashlib.sha256()
    for key in ("x_train", "y_train", "x_test", "y_test"):
        digest.update(arrays[key].tobytes())
    assert digest.hexdigest() == MNIST.content_sha256


def test_to_model_input_scales_uint8_to_unit_float32(arrays):
    images = arrays["x_test"][:50]
    x = to_model_input(images)
    assert x.shape == (50, 28, 28, 1)
    assert x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert x.max() == 1.0  # 255 maps to exactly 1
    np.testing.assert_allclose(x[..., 0], images.astype(np.float64) / 255.0, rtol=1e-6)


def test_to_model_input_accepts_a_single_image_and_known_values():
    image = np.array([[0, 51, 255] + [0] * 25] * 28, dtype=np.uint8)
    x = to_model_input(image)
    assert x.shape == (1, 28, 28, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0, :3, 0], [0.0, 0.2, 1.0], rtol=1e-6)


def test_to_model_input_leaves_float_images_unscaled():
    floats = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    x = to_model_input(floats)
    assert x.dtype == np.float32 and x.shape == (3, 28, 28, 1)
    np.testing.assert_array_equal(x, floats)


def test_an_unchanged_rewrite_still_loads(arrays, tmp_path):
    """Control for the flipped-byte tests: re-saving alone (new zip metadata) is accepted."""
    path = tmp_path / "copy.npz"
    np.savez(path, **arrays)
    assert content_hash(load_arrays(path, allow_download=False)) == MNIST.content_sha256


def test_one_flipped_pixel_is_refused_by_the_hash(arrays, tmp_path):
    changed = dict(arrays)
    changed["x_train"] = arrays["x_train"].copy()
    changed["x_train"][31337, 14, 14] ^= 0x01  # one byte, one bit
    path = tmp_path / "flipped.npz"
    np.savez_compressed(path, **changed)
    with pytest.raises(DataError, match="hash") as err:
        load_arrays(path, allow_download=False)
    assert "flipped.npz" in str(err.value)
    assert arrays["x_train"][31337, 14, 14] != changed["x_train"][31337, 14, 14]  # the original is intact


def test_one_flipped_label_is_refused_by_the_hash(arrays, tmp_path):
    changed = dict(arrays)
    changed["y_test"] = arrays["y_test"].copy()
    changed["y_test"][0] = (changed["y_test"][0] + 1) % 10
    path = tmp_path / "relabelled.npz"
    np.savez(path, **changed)
    with pytest.raises(DataError, match="hash"):
        load_arrays(path, allow_download=False)


def test_truncated_file_raises_a_clear_data_error(tmp_path):
    raw = MNIST.file.read_bytes()
    path = tmp_path / "truncated.npz"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="truncated") as err:
        load_arrays(path, allow_download=False)
    assert "truncated.npz" in str(err.value)


def test_corrupt_compressed_stream_raises_data_error(tmp_path):
    """A byte flipped in y_test's compressed bytes (file not re-saved) must be a DataError too.

    Flipping the first byte of a deflate stream breaks its block header, which zlib itself
    reports (a zlib.error) before zipfile's CRC check can turn it into a BadZipFile.
    """
    raw = bytearray(MNIST.file.read_bytes())
    with zipfile.ZipFile(MNIST.file) as archive:
        info = archive.getinfo("y_test.npy")
    assert info.compress_type == zipfile.ZIP_DEFLATED
    offset = info.header_offset
    name_len, extra_len = struct.unpack("<HH", raw[offset + 26:offset + 30])  # local file header
    raw[offset + 30 + name_len + extra_len] ^= 0xFF
    path = tmp_path / "corrupt.npz"
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="corrupt.npz"):
        load_arrays(path, allow_download=False)


def test_missing_file_without_download_raises(tmp_path, monkeypatch):
    def no_download(path, spec):
        raise AssertionError("must not try to download")
    monkeypatch.setattr(arrays_module, "_download_with_keras", no_download)
    with pytest.raises(DataError, match="missing"):
        load_arrays(tmp_path / "absent.npz", allow_download=False)


def test_missing_file_with_failing_download_raises(tmp_path, monkeypatch):
    import keras

    def offline():
        raise OSError("no network")
    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(DataError, match="no network"):
        load_arrays(tmp_path / "absent.npz", allow_download=True)


def test_wrong_array_shape_or_dtype_is_refused(arrays, tmp_path):
    changed = dict(arrays)
    changed["y_test"] = arrays["y_test"].astype(np.int64)
    path = tmp_path / "int64.npz"
    np.savez(path, **changed)
    with pytest.raises(DataError, match="y_test"):
        load_arrays(path, allow_download=False)


def test_missing_array_is_refused(arrays, tmp_path):
    path = tmp_path / "three.npz"
    np.savez(path, x_train=arrays["x_train"][:2], y_train=arrays["y_train"][:2],
             x_test=arrays["x_test"][:2])
    with pytest.raises(DataError, match="y_test"):
        load_arrays(path, allow_download=False)
