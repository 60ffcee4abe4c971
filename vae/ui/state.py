"""Session and server state shared by the sections: the active model, the open tab and the pad point."""
import functools
import gc
import sys

import numpy as np
import streamlit as st
from streamlit.runtime.scriptrunner import script_runner as _script_runner

from vae import settings
from vae.explorer import open_explorer
from vae.ml.latent import MAX_ABS_Z
from vae.store.location import open_versions
from vae.store.disk import DEFAULT_MODEL
from vae.ui.notices import notify

MODEL_PARAM = "model"
Z_PARAM = "z"
TABS = ["Latent pad", "Draw", "Test-set map", "Manifold", "Interpolate", "Train", "Model", "Gallery", "Compare"]
VIEW_KEY = "view"  # app.py's tabs: the open one, bound to the URL's ?view=


def tab_fragment(tab, **fragment_options):
    """st.fragment for a section drawn in the tab `tab`, whose run reruns the whole app instead
    when another tab is open.

    Streamlit's page sends the widget changes of one moment as one rerun request, and when one of
    them comes from a fragment (a view's "have" hand-over, a button in the section) the request
    reruns that fragment only: a tab clicked in the same moment was never drawn, its panel stayed
    empty (tests/e2e/test_live_pad_browser.py). The tab's new value did reach session state."""
    if tab not in TABS:
        raise ValueError(f"no tab {tab!r} in {TABS}")

    def decorate(section):
        @functools.wraps(section)
        def run(*args, **kwargs):
            if st.session_state.get(VIEW_KEY, tab) != tab:
                st.rerun(scope="app")
            return section(*args, **kwargs)

        return st.fragment(run, **fragment_options)

    return decorate


def _close_pyplot_figures():
    """Streamlit's own cleanup after a script run, less keras.backend.clear_session()."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


# Streamlit calls keras.backend.clear_session() after every script run, to free models a script
# built. This server builds none (training is its own process), and the call cost a quarter of
# the server's CPU with 20 users (bench/load.py) and reset Keras' naming state under a model
# being loaded in the background. It replaces a private function of the pinned Streamlit 1.67;
# tests/test_app.py runs a script and fails if Keras' session is cleared after it.
if hasattr(_script_runner, "_clean_problem_modules"):
    _script_runner._clean_problem_modules = _close_pyplot_figures


def _freeze_gc():
    # Streamlit runs a full gc.collect() after every script run, which walks TensorFlow's
    # whole object graph. Freezing what exists once the model is loaded takes it out of
    # every later collection; unfreezing first keeps a model evicted from the cache collectable.
    gc.unfreeze()
    gc.collect()
    gc.freeze()


@st.cache_resource(show_spinner=False)
def _cached_versions(location: str, cache_dir: str, cache_mb: int):
    # One per process and settings: an object store's listing, cache and client live in it.
    return open_versions(settings.models_location())


def models_store():
    """This server's model versions (vae.store.location): a local folder, or an object store."""
    return _cached_versions(str(settings.models_location()), str(settings.cache_dir()), settings.cache_mb())


@st.cache_resource(max_entries=4, show_spinner="Opening the model…")
def cached_explorer(location: str, name: str, revision: str):
    # From files only: the Keras model loads in the background (start_model_loading).
    # An object store's version is downloaded into this server's cache first, once.
    return open_explorer(models_store().open(name), after_load=_freeze_gc)


def start_model_loading(explorer):
    """Load the Keras model in a background thread, once the first page is on screen."""
    explorer.start_loading(after_load=_freeze_gc)


def available_models():
    return models_store().list()


# What a session knows about one model; meaningless, even wrong, under another model.
MODEL_BOUND_KEYS = ("pad_trail", "picked_test", "drawn", "map_pick_number", "map_pick_class", "draw_test_number")  # not pad_seen: it tracks the page, not the model


def active_model_name():
    """The model chosen in this session, or from the URL, or the shipped default."""
    names = available_models()
    if not names:
        return None
    active = st.session_state.get("active_model")
    chosen = active or st.query_params.get(MODEL_PARAM)
    store = models_store()
    if chosen is not None and chosen not in names:  # just made (another server's listing may lag), or gone
        store.refresh()
        names = store.list()
    if chosen not in names:  # never existed, or deleted by another session or server
        fallback = DEFAULT_MODEL if DEFAULT_MODEL in names else names[0]
        if chosen is not None:
            switch_model(fallback)
        if active is not None:  # not a name from a link: that one is not echoed
            why = ("cannot be opened while the model store cannot be reached" if store.problem
                   else "was deleted (here or on another server)")
            st.session_state["picker_error"] = f"The version “{active}” {why}: the explorer now shows “{fallback}”."
        chosen = fallback
    st.session_state["active_model"] = chosen
    return chosen


def switch_model(name):
    """Make `name` this session's model everywhere: session, URL, and model-bound state."""
    st.session_state["active_model"] = name
    st.query_params[MODEL_PARAM] = name
    for key in MODEL_BOUND_KEYS:
        st.session_state.pop(key, None)


def get_explorer(name):
    """The explorer of the version `name` (a listed name, never a path), built once per content."""
    store = models_store()
    entry = store.entry(name)
    return cached_explorer(store.location, name, entry.revision if entry else "")


def parse_point(text, latent_dim=2):
    """'0.5,-1.2' → array, or None when the text is not a point."""
    try:
        values = np.array([float(v) for v in str(text).split(",")])  # float64: 1e308 must not overflow
    except ValueError:
        return None
    if values.shape != (latent_dim,) or not np.all(np.isfinite(values)) or np.any(np.abs(values) > MAX_ABS_Z):
        return None
    return snap(values)


def snap(z):
    """A point at the URL's precision (3 decimals): the same number in Python, the URL, the
    number inputs and the page, so none of them rounds it differently from another."""
    return np.round(np.asarray(z, dtype="float64"), 3)  # float64: 0.107 goes to the page as 0.107


def format_point(z):
    return ",".join(f"{v:.3f}" for v in z)


def current_point(explorer):
    """The pad point: session first, then the URL (so links reproduce a view), else the origin."""
    if "z" not in st.session_state:
        from_url = st.query_params.get(Z_PARAM)
        point = parse_point(from_url, explorer.latent_dim) if from_url else None
        if from_url and point is None:
            notify(f"Ignored z={from_url!r} in the link: expected two numbers like z=0.5,-1.2",
                   icon=":material/link_off:")
        st.session_state["z"] = point if point is not None else np.zeros(explorer.latent_dim)
    return st.session_state["z"]


def point_rev():
    """Counts the moves of the pad point, so the page can tell a new point from an old one."""
    return st.session_state.get("z_rev", 0)


def point_source():
    """"pad" when the page itself kept the point; anything else moves the page's marker."""
    return st.session_state.get("z_source", "other")


def set_point(z, source="other"):
    z = snap(z)
    st.session_state["z"] = z
    st.session_state["z_rev"] = point_rev() + 1
    st.session_state["z_source"] = source
    st.query_params[Z_PARAM] = format_point(z)


def session_figure(name, explorer, build):
    """A figure built once per session and model, then updated in place by its section.

    Building 10–20k plotly points costs ~20 ms; moving one marker costs nothing.
    Per session, because sections mutate it.
    """
    key = f"_figure_{name}"
    identity = str(explorer.model_dir)
    cached = st.session_state.get(key)
    if cached is None or cached[0] != identity:
        st.session_state[key] = cached = (identity, build())
    return cached[1]
