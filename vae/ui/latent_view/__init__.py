"""Views that decode in the browser: the latent pad and the line between two codes.

Each is a Streamlit custom component (v2, no iframe) whose JavaScript is decoder.js,
the shared runtime, followed by the view's own file. The model's browser data (the
exported decoder and the test codes) goes to the page once: a view confirms it holds a
model through its "have" state, and after that the data is left out of every rerun.
"""
from pathlib import Path

import numpy as np
import streamlit as st

from vae.latent import MAX_ABS_Z

HERE = Path(__file__).parent
IN_BROWSER = "_latent_models_in_browser"  # model keys this page holds


def _component(view):
    js = (HERE / "decoder.js").read_text() + "\n" + (HERE / f"{view}.js").read_text()
    return st.components.v2.component(f"vae_latent_{view}", css=(HERE / "latent_view.css").read_text(), js=js)


_pad = _component("pad")
_line = _component("line")


def valid_point(value):
    """A float32 (2,) array from what the browser sent, or None: finite, 2-D, within ±MAX_ABS_Z."""
    if not (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        return None  # numbers only: NumPy would read "1" as 1.0
    z = np.array(value, dtype="float64")
    if z.shape != (2,) or not np.all(np.isfinite(z)) or np.any(np.abs(z) > MAX_ABS_Z):
        return None
    return z.astype("float32")


def _state_key_declared():
    """Streamlit lists a state value only when it has an on_<name>_change callback; ours are
    read in the run itself (so that AppTest's session_state injection counts too)."""


def _model_data(key, explorer, on_first_view=None):
    """The model key, plus the model's browser data unless the page said it holds it."""
    held = st.session_state.setdefault(IN_BROWSER, set())
    state = st.session_state.get(key) or {}
    if "have" in state:
        if state["have"] == explorer.browser_key:
            held.add(explorer.browser_key)
            if on_first_view is not None:
                on_first_view()
        elif state["have"] is None:  # the page lost its copy: send it again
            held.discard(explorer.browser_key)
    data = {"model": explorer.browser_key}
    if explorer.browser_key not in held:
        data["payload"] = explorer.browser_payload()
    return data


def latent_pad(explorer, *, key, point, point_rev, point_source, trail, show_codes, on_first_view=None):
    """Mount the pad. Its "commit" state (points kept on the page) is read by vae.ui.pad."""
    data = {**_model_data(key, explorer, on_first_view), "point": [float(v) for v in point], "point_rev": point_rev,
            "point_source": point_source, "trail": trail, "show_codes": bool(show_codes)}
    return _pad(key=key, data=data, height="content",
                on_commit_change=_state_key_declared, on_have_change=_state_key_declared)


def latent_line(explorer, *, key, a, b, steps, t, labels):
    """Mount the line view: `steps` decoded points from a to b, and a slider for t."""
    data = {**_model_data(key, explorer), "a": [float(v) for v in a], "b": [float(v) for v in b],
            "steps": int(steps), "t": float(t), "labels": labels}
    return _line(key=key, data=data, height="content", on_t_change=_state_key_declared, on_have_change=_state_key_declared)
