"""Everything the explorer page asks of one model, without Streamlit.

An `Explorer` opens from files alone: the test set, the test codes and the exported
decoder (vae.browser_files), so the first page needs no TensorFlow. The Keras model
itself loads in a background thread (`start_loading`) and is waited for only by what
needs it: encoding a drawing, the manifold, reconstructions.
"""
import concurrent.futures
import dataclasses
import threading
from pathlib import Path

import numpy as np

from vae import knn
from vae.browser_files import model_fingerprint, read_browser_files, write_browser_files
from vae.data import load_arrays, to_model_input
from vae.config import recorded_dataset
from vae.datasets import get_dataset
from vae.export import b64_float32
from vae.latent import latent_extent
from vae.store import MODEL_FILE, read_metadata

LOOKS_LIKE_K = 10

# One thread for all models: loading is rare, and two TensorFlow imports at once gain nothing.
_LOADER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="vae-model-loader")


LOAD_ATTEMPTS = 3


def _load_keras(model_file):
    """load_vae, tried again when a concurrent keras.backend.clear_session() broke it.

    Streamlit calls clear_session() after every script run, and it resets Keras' naming
    state for every thread: a model being built in this thread at that moment can end
    up with two layers of the same auto-generated name, and Keras refuses it. vae.ui.state
    stops Streamlit from calling it; this stays for any other caller of clear_session().
    """
    from vae.model import load_vae  # the TensorFlow import happens here, off the page's path

    for attempt in range(LOAD_ATTEMPTS):
        try:
            return load_vae(model_file)
        except ValueError as err:
            if "is used" not in str(err) or "times in the model" not in str(err) or attempt == LOAD_ATTEMPTS - 1:
                raise


def _load_model(model_file, image_shape, after_load):
    model = _load_keras(model_file)
    model.decode(np.zeros((1, model.latent_dim), "float32"))  # trace the fast paths now
    model.encode(np.zeros((1, *image_shape, 1), "float32"))
    if after_load is not None:
        after_load()
    return model


@dataclasses.dataclass
class LooksLike:
    label: int  # majority label among the nearest test images
    share: float  # fraction of neighbours that carry it
    neighbours: np.ndarray  # test-set indices, nearest first


@dataclasses.dataclass
class Explorer:
    name: str
    model_dir: Path
    metadata: dict
    dataset: object  # the DatasetSpec the model was trained on: classes, colours, nouns
    x_test: np.ndarray  # uint8 (n, h, w)
    y_test: np.ndarray
    z_test: np.ndarray  # z_mean of every test image
    z_test_log_var: np.ndarray
    decoder_description: dict  # vae.export's description, as the browser runs it
    fingerprint: str  # SHA-256 of model.keras
    prepared_now: bool = False  # the browser files were missing (an older model) and made at open
    _model_future: concurrent.futures.Future | None = None
    _extent: list | None = None
    _payload: dict | None = None
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    @property
    def latent_dim(self):
        return self.z_test.shape[1]

    @property
    def image_shape(self):
        return self.x_test.shape[1:]

    @property
    def class_names(self):
        return self.dataset.class_names

    @property
    def class_colors(self):
        return self.dataset.class_colors

    @property
    def noun(self):
        return self.dataset.item_noun

    # -- the Keras model, loaded in the background

    def start_loading(self, after_load=None):
        """Start loading the Keras model if nobody has; returns its Future."""
        with self._lock:
            if self._model_future is None:
                self._model_future = _LOADER.submit(_load_model, self.model_dir / MODEL_FILE,
                                                    self.image_shape, after_load)
            return self._model_future

    @property
    def model_ready(self):
        return self._model_future is not None and self._model_future.done()

    @property
    def model(self):
        return self.start_loading().result()

    # -- questions the page asks

    def extent(self):
        """[(lo, hi) per latent axis]: a square covering where the test images live."""
        if self._extent is None:
            lo, hi = latent_extent(self.z_test, quantile=0.002, pad=0.08)
            self._extent = [(round(a, 2), round(b, 2)) for a, b in zip(lo, hi)]
        return self._extent

    def decode(self, z):
        """(n, d) latent points → (n, h, w) images in [0, 1]."""
        return self.model.decode(np.atleast_2d(np.asarray(z, dtype="float32")))

    def decode_one(self, z):
        return self.decode(z)[0]

    def encode(self, image):
        """One (h, w) image in [0, 1] or uint8 → (z_mean, z_log_var), each (d,)."""
        z_mean, z_log_var = self.model.encode(to_model_input(image))
        return z_mean[0], z_log_var[0]

    def reconstruct(self, image):
        """Decode the mean code of `image`: what the model keeps of it."""
        z_mean, _ = self.encode(image)
        return self.decode_one(z_mean)

    def looks_like(self, z, k=LOOKS_LIKE_K):
        idx = knn.nearest(self.z_test, np.asarray(z, dtype="float32")[None], k)[0]
        labels = self.y_test[idx]
        label = int(knn.vote(labels[None], len(self.class_names))[0])
        return LooksLike(label, float(np.mean(labels == label)), idx)

    # -- what the browser views receive, once per model and page

    @property
    def browser_key(self):
        """Names this model's browser data: a new model.keras gives a new key."""
        return f"{self.name}@{self.fingerprint[:16]}"

    def browser_payload(self):
        if self._payload is None:
            self._payload = {
                "key": self.browser_key,
                "decoder": self.decoder_description,
                "codes": b64_float32(self.z_test),
                "labels": _b64_uint8(self.y_test),
                "class_names": list(self.class_names),
                "class_colors": list(self.class_colors),
                "noun": self.noun,
                "extent": [list(axis) for axis in self.extent()],
                "looks_like_k": LOOKS_LIKE_K,
            }
        return self._payload


def _b64_uint8(array):
    import base64
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.uint8).tobytes()).decode("ascii")


def open_explorer(model_dir, arrays=None, after_load=None):
    """An Explorer from a model directory's files; TensorFlow only for an older model
    whose browser files are missing, which are then made once and kept."""
    model_dir = Path(model_dir)
    metadata = read_metadata(model_dir)
    dataset = get_dataset(recorded_dataset(metadata))
    arrays = arrays if arrays is not None else load_arrays(dataset=dataset)
    fingerprint = model_fingerprint(model_dir)
    files = read_browser_files(model_dir, fingerprint)
    prepared_now = files is None
    future = None
    if prepared_now:
        future = concurrent.futures.Future()
        model = _load_model(model_dir / MODEL_FILE, arrays["x_test"].shape[1:], after_load)
        future.set_result(model)
        if model.latent_dim != 2:
            raise ValueError(f"the explorer shows 2-D latent spaces; {model_dir.name} has {model.latent_dim} dims")
        write_browser_files(model, model_dir, arrays["x_test"])
        files = read_browser_files(model_dir, fingerprint)
    description, z_mean, z_log_var = files
    if description["latent_dim"] != 2:  # the pad, maps and grid are planes
        raise ValueError(f"the explorer shows 2-D latent spaces; {model_dir.name} has "
                         f"{description['latent_dim']} dims")
    return Explorer(name=model_dir.name, model_dir=model_dir, metadata=metadata, dataset=dataset,
                    x_test=arrays["x_test"], y_test=arrays["y_test"], z_test=z_mean,
                    z_test_log_var=z_log_var, decoder_description=description,
                    fingerprint=fingerprint, prepared_now=prepared_now, _model_future=future)


load_explorer = open_explorer
