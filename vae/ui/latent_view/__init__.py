"""Views that decode in the browser: the latent pad and the line between two codes.

Each is a Streamlit custom component (v2, no iframe) whose JavaScript is decoder.js,
the shared runtime, followed by the view's own file. The model's browser data (the
exported decoder and the test codes) goes to the page once: a view confirms it holds a
model through its "have" state, and after that the data is left out of every rerun.
"""
from pathlib import Path

import numpy as np
import streamlit as st

HERE = Path(__file__).parent
IN_BROWSER = "_latent_models_in_browser"  # model keys this page holds
MAX_ABS_Z = 100.0


def _component(view):
    js = (HERE / "decoder.js").read_text() + "\n" + (HERE / f"{view}.js").read_text()
    return st.components.v2.component(f"vae_latent_{view}", css=(HERE / "latent_view.css").read_text(), js=js)


_pad = _component("pad")
_line = _component("line")


def valid_point(value):
    """A float32 (2,) array from what the browser sent, or None: finite, 2-D, within ±100."""
    try:
        z = np.array(value, dtype="float64")
    except (TypeError, ValueError):
        return None
    if z.shape != (2,) or not np.all(np.isfinite(z)) or np.any(np.abs(z) > MAX_ABS_Z):
        return None
    return z.astype("float32")


def _record_have(key, explorer, on_first_view):
    value = (st.session_state.get(key) or {}).get("have")
    held = st.session_state.setdefault(IN_BROWSER, set())
    if isinstance(value, str) and value == explorer.browser_key:
        held.add(value)
        if on_first_view is not None:
            on_first_view()
    elif value is None:  # the page lost its copy: send it again
        held.discard(explorer.browser_key)


def _model_data(explorer):
    held = st.session_state.get(IN_BROWSER, set())
    data = {"model": explorer.browser_key}
    if explorer.browser_key not in held:
        data["payload"] = explorer.browser_payload()
    return data


def latent_pad(explorer, *, key, point, point_rev, point_source, trail, show_codes, on_commit,
               on_first_view=None):
    """Mount the pad. `on_commit` is called, before the rerun, when the page keeps points."""
    data = {**_model_data(explorer), "point": [float(v) for v in point], "point_rev": point_rev,
            "point_source": point_source, "trail": trail, "show_codes": bool(show_codes)}
    return _pad(key=key, data=data, height="content",
                on_commit_change=on_commit,
                on_have_change=lambda: _record_have(key, explorer, on_first_view))


def latent_line(explorer, *, key, a, b, steps, t, labels, on_t):
    """Mount the line view: `steps` decoded points from a to b, and a slider for t."""
    data = {**_model_data(explorer), "a": [float(v) for v in a], "b": [float(v) for v in b],
            "steps": int(steps), "t": float(t), "labels": labels}
    return _line(key=key, data=data, height="content", on_t_change=on_t,
                 on_have_change=lambda: _record_have(key, explorer, None))
