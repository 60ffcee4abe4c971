"""Files next to each model that let a page use it before, or without, TensorFlow.

  decoder.json     vae.ml.export's description of the decoder (layers + float32 weights)
  encoder.json     vae.ml.export's description of the encoder, up to z_mean and z_log_var
  test_codes.npz   z_mean and z_log_var of every test image

All three record the SHA-256 of the model.keras they came from, so a retrained or replaced
model never shows stale codes: `read_browser_files` treats a mismatch as missing.

The encoder has a file of its own rather than a place inside decoder.json: every version saved
before the encoder was exported keeps a decoder.json that is still exactly right, so its first
open adds encoder.json alone (`stale_browser_files` says which files to make) and leaves the
other two, and the shipped models' files in git, untouched. Each file also stays one
description with one format, which vae/ui/latent_view/runtime.js checks as it prepares it.
"""
import dataclasses
import io
import json
from pathlib import Path

import numpy as np

from vae.ml.export import describe_decoder, describe_encoder
from vae.store.disk import MODEL_FILE, atomic_file, sha256_file

DECODER_FILE = "decoder.json"
ENCODER_FILE = "encoder.json"
CODES_FILE = "test_codes.npz"


@dataclasses.dataclass(frozen=True)
class BrowserFiles:
    """What the page is sent for one model, read from its browser files."""
    decoder: dict  # vae.ml.export's decoder description, with its source_sha256
    encoder: dict  # vae.ml.export's encoder description, with its source_sha256
    z_mean: np.ndarray  # (n test images, latent_dim)
    z_log_var: np.ndarray


def model_fingerprint(model_dir):
    """SHA-256 of model.keras: what the browser files were computed from."""
    return sha256_file(Path(model_dir) / MODEL_FILE)


# -- making each file: (loaded model, uint8 test images, fingerprint) → bytes

def _decoder_json(model, x_test, fingerprint):
    return json.dumps({"source_sha256": fingerprint, **describe_decoder(model.decoder)}).encode()


def _encoder_json(model, x_test, fingerprint):
    return json.dumps({"source_sha256": fingerprint, **describe_encoder(model.encoder)}).encode()


def _codes_npz(model, x_test, fingerprint):
    from vae.ml.model import encode_all  # TensorFlow: only where the files are made

    z_mean, z_log_var = encode_all(model, x_test)
    codes = io.BytesIO()
    np.savez(codes, z_mean=z_mean.astype("float32"), z_log_var=z_log_var.astype("float32"),
             source_sha256=np.array(fingerprint))
    return codes.getvalue()


MAKERS = {DECODER_FILE: _decoder_json, ENCODER_FILE: _encoder_json, CODES_FILE: _codes_npz}


# -- reading each file: its content, or None when missing, unreadable or stale

def _read_description(path, fingerprint):
    try:
        description = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    current = isinstance(description, dict) and description.get("source_sha256") == fingerprint
    return description if current else None


def _read_codes(path, fingerprint):
    try:
        with np.load(path, allow_pickle=False) as npz:
            z_mean, z_log_var, source = npz["z_mean"], npz["z_log_var"], str(npz["source_sha256"])
    except (OSError, ValueError, KeyError):
        return None
    return (z_mean, z_log_var) if source == fingerprint else None


READERS = {DECODER_FILE: _read_description, ENCODER_FILE: _read_description, CODES_FILE: _read_codes}


def _read_each(model_dir, fingerprint):
    """{file name: its content, or None}."""
    model_dir = Path(model_dir)
    fingerprint = fingerprint or model_fingerprint(model_dir)
    return {name: read(model_dir / name, fingerprint) for name, read in READERS.items()}


def browser_files(model, x_test, fingerprint, names=tuple(MAKERS)):
    """{file name: bytes} of the files `names` (all by default), for a loaded model and its
    dataset's uint8 test images."""
    return {name: MAKERS[name](model, x_test, fingerprint) for name in names}


def write_browser_files(model, model_dir, x_test, names=tuple(MAKERS)):
    """Compute and write the files `names` (all by default) into an existing model directory,
    each atomically."""
    model_dir = Path(model_dir)
    for name, content in browser_files(model, x_test, model_fingerprint(model_dir), names).items():
        with atomic_file(model_dir / name, "wb") as f:
            f.write(content)


def stale_browser_files(model_dir, fingerprint=None):
    """The names of the browser files that are missing, unreadable or stale: what to make."""
    return [name for name, content in _read_each(model_dir, fingerprint).items() if content is None]


def read_browser_files(model_dir, fingerprint=None):
    """BrowserFiles, or None when any file is missing, unreadable or stale."""
    contents = _read_each(model_dir, fingerprint)
    if any(content is None for content in contents.values()):
        return None
    z_mean, z_log_var = contents[CODES_FILE]
    return BrowserFiles(decoder=contents[DECODER_FILE], encoder=contents[ENCODER_FILE],
                        z_mean=z_mean, z_log_var=z_log_var)
