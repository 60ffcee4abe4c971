"""Read the IDX files MNIST-style datasets ship in, and convert them to our .npz.

Hand-written (about 40 lines) because no installed library reads IDX with header
checks, and the format is two big-endian header words plus raw bytes.

Writing a dataset's own file under data/ (its DatasetSpec's `file`) checks the images against
that spec's shape and reports whether the content hash is the spec's.

Usage (needs Debian's dataset-fashion-mnist only here, never at run time):
  python -m vae.data.idx /usr/share/datasets/fashion-mnist data/fashion-mnist.npz
"""
import argparse
import gzip
import os
import struct
import sys
import tempfile
from pathlib import Path

import numpy as np

IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension
SPLIT_FILES = {  # the file names of the original releases (LeCun's, and Zalando's after it)
    "x_train": "train-images-idx3-ubyte.gz", "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz", "y_test": "t10k-labels-idx1-ubyte.gz",
}


class IdxError(ValueError):
    """An IDX file that is not what its header, or we, expect."""


def _open(path):
    path = Path(path)
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _read(path):
    try:
        with _open(path) as f:
            return f.read()
    except (OSError, EOFError) as err:  # gzip raises these on a cut-off stream
        raise IdxError(f"{path}: unreadable or truncated ({err})") from err


def _parse(raw, path, magic, n_dims):
    header = 4 + 4 * n_dims
    if len(raw) < 4:
        raise IdxError(f"{path}: truncated header ({len(raw)} bytes)")
    found = struct.unpack(">I", raw[:4])[0]
    if found != magic:  # checked first: the wrong kind of file is the likelier mistake
        raise IdxError(f"{path}: magic number 0x{found:08x}, expected 0x{magic:08x}")
    if len(raw) < header:
        raise IdxError(f"{path}: truncated header ({len(raw)} bytes)")
    dims = struct.unpack(f">{n_dims}I", raw[4:header])
    expected = int(np.prod(dims)) + header
    if len(raw) != expected:
        raise IdxError(f"{path}: {len(raw)} bytes, the header {dims} promises {expected}: truncated or padded")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def read_images(path, image_shape=None):
    """uint8 (n, rows, cols) from an idx3-ubyte file, checked against `image_shape` if given."""
    images = _parse(_read(path), path, IMAGES_MAGIC, 3)
    if image_shape is not None and images.shape[1:] != tuple(image_shape):
        raise IdxError(f"{path}: images are {images.shape[1:]}, expected {tuple(image_shape)}")
    return images


def read_labels(path):
    """uint8 (n,) from an idx1-ubyte file."""
    return _parse(_read(path), path, LABELS_MAGIC, 1)


def read_split_dir(directory, image_shape=None, bar=None):
    """The four arrays of a release directory, with images and labels counted alike and test
    images shaped as training ones (and as `image_shape`, if given); `bar` (tqdm) advances
    by one per file read."""
    directory = Path(directory)
    arrays = {}
    for key, name in SPLIT_FILES.items():
        path = directory / name
        arrays[key] = read_images(path, image_shape) if key.startswith("x") else read_labels(path)
        if bar is not None:
            bar.update()
    if arrays["x_test"].shape[1:] != arrays["x_train"].shape[1:]:
        raise IdxError(f"{directory}: test images are {arrays['x_test'].shape[1:]}, "
                       f"training images {arrays['x_train'].shape[1:]}")
    for split in ("train", "test"):
        if len(arrays["x_" + split]) != len(arrays["y_" + split]):
            raise IdxError(f"{directory}: {len(arrays['x_' + split])} {split} images "
                           f"but {len(arrays['y_' + split])} labels")
    return arrays


def write_npz_atomic(arrays, dest):
    """numpy.savez_compressed to a temporary file in the same directory, renamed into place."""
    dest = Path(dest)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def spec_of_file(dest):
    """The DatasetSpec whose data file is `dest`, or None."""
    from vae.data.datasets import DATASETS
    return next((spec for spec in DATASETS.values() if spec.file.resolve() == Path(dest).resolve()), None)


def main(argv=None):
    from tqdm import tqdm

    from vae.data.arrays import content_hash
    parser = argparse.ArgumentParser(description="Convert an IDX release directory to a .npz.")
    parser.add_argument("source", type=Path, help="directory with the four *-ubyte.gz files")
    parser.add_argument("dest", type=Path, help="the .npz to write, e.g. data/fashion-mnist.npz")
    args = parser.parse_args(argv)
    spec = spec_of_file(args.dest)
    # A bar on a terminal (stderr; none when piped): four files read, then the compressed write
    with tqdm(total=len(SPLIT_FILES) + 1, desc=args.dest.name, unit="step", disable=None) as bar:
        try:
            arrays = read_split_dir(args.source, spec.image_shape if spec else None, bar)
        except IdxError as err:
            bar.close()
            print(f"error: {err}", file=sys.stderr)
            return 2
        bar.set_postfix_str("compressing")
        write_npz_atomic(arrays, args.dest)
        bar.set_postfix_str("written", refresh=False)
        bar.update()
    shapes = ", ".join(f"{k} {v.shape}" for k, v in arrays.items())
    digest = content_hash(arrays)
    verdict = "" if spec is None else (f" (the {spec.title} spec's)" if digest == spec.content_sha256
                                       else f" (not the {spec.title} spec's {spec.content_sha256[:12]}…)")
    print(f"wrote {args.dest}: {shapes}; content_sha256 {digest}{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
