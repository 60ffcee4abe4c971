"""Everything the explorer page asks of one model, without Streamlit.

An `Explorer` opens from files alone: its version (vae.store.versions), the test set, the test
codes and the exported decoder and encoder, so the first page needs no TensorFlow. The Keras model
itself loads in a background thread (`start_loading`) and is waited for only by what
needs it: encoding a drawing, the manifold, reconstructions.
"""
import base64
import concurrent.futures
import dataclasses
import threading

import numpy as np

from vae.ml.config import recorded_option
from vae.data.arrays import to_model_input
from vae.ml.export import b64_float32
from vae.ml.latent import latent_extent
from vae.store.versions import Version, open_dir

LOOKS_LIKE_K = 10  # the nearest test codes whose labels the page's "looks like" votes on (runtime.js)

# One thread for all models: loading is rare, and two TensorFlow imports at once gain nothing.
_LOADER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="vae-model-loader")


def _ready(model, image_shape, after_load):
    """Trace the model's fast paths now, so the first drawing or manifold does not wait for it."""
    model.decode(np.zeros((1, model.latent_dim), "float32"))
    model.encode(np.zeros((1, *image_shape, 1), "float32"))
    if after_load is not None:
        after_load()
    return model


def _load_model(version, image_shape, after_load):
    return _ready(version.load_model(), image_shape, after_load)


@dataclasses.dataclass
class Explorer:
    version: Version  # name, directory, metadata, dataset spec, architecture
    x_test: np.ndarray  # uint8 (n, h, w)
    y_test: np.ndarray
    z_test: np.ndarray  # z_mean of every test image
    z_test_log_var: np.ndarray
    decoder_description: dict  # vae.ml.export's descriptions, as the browser runs them
    encoder_description: dict
    prepared_now: bool = False  # the browser files were missing (an older model) and made at open
    _model_future: concurrent.futures.Future | None = None
    _extent: list | None = None
    _payload: dict | None = None
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    @property
    def name(self):
        return self.version.name

    @property
    def model_dir(self):
        return self.version.path

    @property
    def metadata(self):
        return self.version.metadata

    @property
    def dataset(self):
        """The DatasetSpec the model was trained on: classes, colours, nouns."""
        return self.version.dataset

    @property
    def fingerprint(self):
        return self.version.fingerprint

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
                self._model_future = _LOADER.submit(_load_model, self.version, self.image_shape, after_load)
            return self._model_future

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
                "encoder": self.encoder_description,
                "codes": b64_float32(self.z_test),
                "labels": _b64_uint8(self.y_test),
                "class_names": list(self.class_names),
                "class_colors": list(self.class_colors),
                "noun": self.noun,
                "extent": [list(axis) for axis in self.extent()],
                "looks_like_k": LOOKS_LIKE_K,
                # the ELBO view's "test-set mean" column, and why the training loss weighed
                # its terms otherwise (β, KL mean)
                "metrics": {k: self.metadata.get("metrics", {}).get(k) for k in ("reconstruction", "kl", "neg_elbo")},
                "training": {k: recorded_option(self.metadata, k) for k in ("beta", "kl_reduction")},
            }
        return self._payload


def _b64_uint8(array):
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.uint8).tobytes()).decode("ascii")


def open_explorer(version, arrays=None, after_load=None):
    """An Explorer from a Version (or a model directory) and its files (vae.store.versions has the trip);
    TensorFlow only for an older version whose browser files are missing, made once and kept."""
    version = version if isinstance(version, Version) else open_dir(version)
    arrays = arrays if arrays is not None else version.test_set()
    files, model = version.browser_files(arrays["x_test"])
    if files.decoder["latent_dim"] != 2:  # the pad, maps and grid are planes
        raise ValueError(f"the explorer shows 2-D latent spaces; {version.name} has "
                         f"{files.decoder['latent_dim']} dims")
    future = None
    if model is not None:  # loaded to make the browser files: keep it
        future = concurrent.futures.Future()
        future.set_result(_ready(model, arrays["x_test"].shape[1:], after_load))
    return Explorer(version=version, x_test=arrays["x_test"], y_test=arrays["y_test"], z_test=files.z_mean,
                    z_test_log_var=files.z_log_var, decoder_description=files.decoder,
                    encoder_description=files.encoder, prepared_now=model is not None, _model_future=future)
