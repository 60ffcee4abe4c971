"""Files next to each model that let a page use it before, or without, TensorFlow.

  decoder.json     vae.ml.export's description of the decoder (layers + float32 weights)
  test_codes.npz   z_mean and z_log_var of every test image

Both record the SHA-256 of the model.keras they came from, so a retrained or replaced
model never shows stale codes: `read_browser_files` treats a mismatch as missing.
"""
import io
import json
from pathlib import Path

import numpy as np

from vae.ml.export import describe_decoder
from vae.store.disk import MODEL_FILE, atomic_file, sha256_file

DECODER_FILE = "decoder.json"
CODES_FILE = "test_codes.npz"


def model_fingerprint(model_dir):
    """SHA-256 of model.keras: what the browser files were computed from."""
    return sha256_file(Path(model_dir) / MODEL_FILE)


def browser_files(model, x_test, fingerprint):
    """{file name: bytes} for a loaded model and its dataset's uint8 test images."""
    from vae.ml.model import encode_all  # TensorFlow: only where the files are made

    description = {"source_sha256": fingerprint, **describe_decoder(model.decoder)}
    z_mean, z_log_var = encode_all(model, x_test)
    codes = io.BytesIO()
    np.savez(codes, z_mean=z_mean.astype("float32"), z_log_var=z_log_var.astype("float32"),
             source_sha256=np.array(fingerprint))
    return {DECODER_FILE: json.dumps(description).encode(), CODES_FILE: codes.getvalue()}


def write_browser_files(model, model_dir, x_test):
    """Compute and write both files into an existing model directory, each atomically."""
    model_dir = Path(model_dir)
    for name, content in browser_files(model, x_test, model_fingerprint(model_dir)).items():
        with atomic_file(model_dir / name, "wb") as f:
            f.write(content)


def read_browser_files(model_dir, fingerprint=None):
    """(decoder description, z_mean, z_log_var), or None when missing, unreadable or stale."""
    model_dir = Path(model_dir)
    fingerprint = fingerprint or model_fingerprint(model_dir)
    try:
        description = json.loads((model_dir / DECODER_FILE).read_text())
        with np.load(model_dir / CODES_FILE, allow_pickle=False) as npz:
            z_mean, z_log_var, source = npz["z_mean"], npz["z_log_var"], str(npz["source_sha256"])
    except (OSError, ValueError, KeyError):
        return None
    if description.get("source_sha256") != fingerprint or source != fingerprint:
        return None
    return description, z_mean, z_log_var
