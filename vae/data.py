"""The bundled MNIST: load it, prove it is the real thing, and shape it for the model.

The file ships in the repo because no machine here reaches the internet. Its
zip metadata differs from Keras' own copy, so we check a hash of the array
contents rather than of the file.
"""
import hashlib
import zipfile
import zlib
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = REPO_ROOT / "data" / "mnist.npz"
KEYS = ("x_train", "y_train", "x_test", "y_test")
CONTENT_SHA256 = "06b0d1f124c4e5fa796686ade41a9b778edacc8622f2195a352ef479ad44fc16"
SHAPES = {"x_train": (60000, 28, 28), "y_train": (60000,), "x_test": (10000, 28, 28), "y_test": (10000,)}


class DataError(RuntimeError):
    """The dataset is missing or is not the MNIST we expect."""


def content_hash(arrays):
    """SHA-256 over the raw bytes of x_train, y_train, x_test, y_test, in that order."""
    digest = hashlib.sha256()
    for key in KEYS:
        digest.update(np.ascontiguousarray(arrays[key], dtype=np.uint8).tobytes())
    return digest.hexdigest()


def _read_npz(path):
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in KEYS if k not in npz.files]
            if missing:
                raise DataError(f"{path} lacks the arrays {missing}; {_fix_hint(path)}")
            return {k: npz[k] for k in KEYS}
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError) as err:
        raise DataError(f"{path} is unreadable ({err}); it is truncated or not an .npz. {_fix_hint(path)}") from err


def _fix_hint(path):
    path = Path(path).resolve()
    if path == DEFAULT_PATH:
        return ("Restore it with `git checkout -- data/mnist.npz` (the repo ships the original), "
                "or delete it to fall back to Keras' downloader.")
    return f"Point to the original MNIST .npz instead of {path}."


def _download_with_keras(path):
    """Keras' downloader: only useful for users with internet access."""
    try:
        from keras.datasets import mnist
        (x_train, y_train), (x_test, y_test) = mnist.load_data()
    except Exception as err:  # no network, no keras: say so plainly
        raise DataError(
            f"{path} is missing and Keras could not download MNIST ({err}). "
            "Restore the bundled file with `git checkout -- data/mnist.npz`.") from err
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def load_arrays(path=None, allow_download=True):
    """Return a dict of the four uint8 arrays, verified against the known content hash."""
    path = Path(path) if path is not None else DEFAULT_PATH
    if path.exists():
        arrays = _read_npz(path)
        source = str(path)
    elif allow_download:
        arrays = _download_with_keras(path)
        source = "keras.datasets.mnist"
    else:
        raise DataError(f"{path} is missing. {_fix_hint(path)}")
    for key, shape in SHAPES.items():
        if arrays[key].shape != shape or arrays[key].dtype != np.uint8:
            raise DataError(f"{source}: {key} is {arrays[key].dtype}{arrays[key].shape}, "
                            f"expected uint8{shape}. {_fix_hint(path)}")
    actual = content_hash(arrays)
    if actual != CONTENT_SHA256:
        raise DataError(f"{source} is not the original MNIST: content hash {actual[:12]}… "
                        f"≠ {CONTENT_SHA256[:12]}…. {_fix_hint(path)}")
    return arrays


def load_mnist(path=None, allow_download=True):
    """(x_train, y_train), (x_test, y_test) as uint8, the layout of keras.datasets.mnist."""
    a = load_arrays(path, allow_download)
    return (a["x_train"], a["y_train"]), (a["x_test"], a["y_test"])


def to_model_input(images):
    """uint8 (n, 28, 28) → float32 (n, 28, 28, 1) in [0, 1], as the reference scales it."""
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    scaled = images.astype("float32")
    if images.dtype == np.uint8:
        scaled /= 255.0
    return scaled[..., None] if scaled.ndim == 3 else scaled
