"""The bundled datasets: load one, prove it is the real thing, and shape it for the model.

The files ship in the repo because no machine here reaches the internet. Their
zip metadata differs from other copies, so we check a hash of the array contents
rather than of the file. What a dataset is (file, hash, shape) lives in vae.data.datasets.
"""
import hashlib
import importlib
import zipfile
import zlib
from pathlib import Path

import numpy as np

from vae.data.datasets import DEFAULT_DATASET, get_dataset
from vae.settings import REPO_ROOT

KEYS = ("x_train", "y_train", "x_test", "y_test")


class DataError(RuntimeError):
    """The dataset is missing or is not the one we expect."""


def content_hash(arrays):
    """SHA-256 over the raw bytes of x_train, y_train, x_test, y_test, in that order."""
    digest = hashlib.sha256()
    for key in KEYS:
        digest.update(np.ascontiguousarray(arrays[key], dtype=np.uint8).tobytes())
    return digest.hexdigest()


def expected_shapes(spec):
    return {"x_train": (spec.n_train, *spec.image_shape), "y_train": (spec.n_train,),
            "x_test": (spec.n_test, *spec.image_shape), "y_test": (spec.n_test,)}


def _read_npz(path, spec):
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in KEYS if k not in npz.files]
            if missing:
                raise DataError(f"{path} lacks the arrays {missing}; {_fix_hint(path, spec)}")
            return {k: npz[k] for k in KEYS}
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError) as err:
        raise DataError(f"{path} is unreadable ({err}); it is truncated or not an .npz. "
                        f"{_fix_hint(path, spec)}") from err


def _fix_hint(path, spec):
    path = Path(path).resolve()
    if path == spec.file.resolve():
        relative = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
        hint = f"Restore it with `git checkout -- {relative}` (the repo ships the original)"
        return hint + (", or delete it to fall back to Keras' downloader." if spec.keras_download else ".")
    return f"Point to the original {spec.title} .npz instead of {path}."


def _download_with_keras(path, spec):
    """Keras' downloader, for a dataset that names one: only useful with internet access."""
    try:
        (x_train, y_train), (x_test, y_test) = importlib.import_module(
            f"keras.datasets.{spec.keras_download}").load_data()
    except Exception as err:  # no network, no keras: say so plainly
        raise DataError(f"{path} is missing and Keras could not download {spec.title} ({err}). "
                        f"{_fix_hint(path, spec)}") from err
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def load_arrays(path=None, allow_download=True, dataset=DEFAULT_DATASET):
    """The four uint8 arrays of `dataset` (a name or a DatasetSpec), verified against its
    content hash and shapes. `path` overrides where the file is read from."""
    spec = get_dataset(dataset)
    path = Path(path) if path is not None else spec.file
    if path.exists():
        arrays = _read_npz(path, spec)
        source = str(path)
    elif allow_download and spec.keras_download:
        arrays = _download_with_keras(path, spec)
        source = f"keras.datasets.{spec.keras_download}"
    else:
        raise DataError(f"{path} is missing. {_fix_hint(path, spec)}")
    for key, shape in expected_shapes(spec).items():
        if arrays[key].shape != shape or arrays[key].dtype != np.uint8:
            raise DataError(f"{source}: {key} is {arrays[key].dtype}{arrays[key].shape}, "
                            f"expected uint8{shape}. {_fix_hint(path, spec)}")
    actual = content_hash(arrays)
    if actual != spec.content_sha256:
        raise DataError(f"{source} is not the original {spec.title}: content hash {actual[:12]}… "
                        f"≠ {spec.content_sha256[:12]}…. {_fix_hint(path, spec)}")
    return arrays


def to_model_input(images):
    """uint8 (n, rows, cols) → float32 (n, rows, cols, 1) in [0, 1], as the reference scales it."""
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    scaled = images.astype("float32")
    if images.dtype == np.uint8:
        scaled /= 255.0
    return scaled[..., None] if scaled.ndim == 3 else scaled
