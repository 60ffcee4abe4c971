"""Views that decode in the browser: the latent pad, the line between two codes, and the
Draw tab's plane.

Each is a Streamlit custom component (v2, no iframe) whose JavaScript is one ES module:
the shared files (SHARED_JS, in order: the runtime, the page's model cache, the plane and
mounting) followed by the view's own file. The model's browser data (the exported decoder
and the test codes) goes to the page once: a view confirms it holds a model through its
"have" state, and after that the data is left out of every rerun.
"""
import base64
from pathlib import Path

import numpy as np
import streamlit as st

from vae.ml.latent import MAX_ABS_Z

HERE = Path(__file__).parent
SHARED_JS = ("runtime.js", "models.js", "plane.js", "mount.js")
VIEW_JS = {"pad": ("pad.js",), "line": ("line.js",),
           "draw": ("drawing.js", "elbo.js", "draw.js"),  # the drawing recipe, the ELBO panel, the view
           "compare": ("compare.js",)}  # two versions, linked (vae/ui/compare.py)
IN_BROWSER = "_latent_models_in_browser"  # model keys this page holds


def module_source(view):
    """The JavaScript module of one view: the shared files, then the view's own."""
    return "\n".join((HERE / name).read_text() for name in (*SHARED_JS, *VIEW_JS[view]))


def _component(view):
    return st.components.v2.component(f"vae_latent_{view}", css=(HERE / "latent_view.css").read_text(),
                                      js=module_source(view))


_pad = _component("pad")
_line = _component("line")
_draw = _component("draw")


def valid_point(value):
    """A float32 (2,) array from what the browser sent, or None: finite, 2-D, within ±MAX_ABS_Z."""
    if not (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        return None  # numbers only: NumPy would read "1" as 1.0
    z = np.array(value, dtype="float64")
    if z.shape != (2,) or not np.all(np.isfinite(z)) or np.any(np.abs(z) > MAX_ABS_Z):
        return None
    return z.astype("float32")


def _model_data(key, explorer, on_first_view=None):
    """The model key, plus the model's browser data unless the page said it holds it.

    The views' state ("have", "commit", "t") is read here, in the run, from session_state: no
    on_<name>_change callbacks are needed. Streamlit 1.67 delivers every state key a component
    sets when none are declared (bidi_component/main.py: allowed_state_keys is None, and the
    page's setStateValue sends and reruns whatever it is given)."""
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
    return _pad(key=key, data=data, height="content")


def latent_line(explorer, *, key, a, b, steps, t, labels):
    """Mount the line view: `steps` decoded points from a to b, and a slider for t."""
    data = {**_model_data(key, explorer), "a": [float(v) for v in a], "b": [float(v) for v in b],
            "steps": int(steps), "t": float(t), "labels": labels}
    return _line(key=key, data=data, height="content")


def latent_draw(explorer, *, key, drawn=None, canvas_key=None, recipe=None, image=None):
    """Mount the view that takes one image through the VAE in the page: the drawing on the
    canvas `canvas_key` (read live, made into the model's input by `recipe`), or `image` (a
    uint8 array of the model's input shape, a picked test image). `drawn`: Python's code of the
    last drawing, shown to tests as data-server-z. Only that, and the image's 784 bytes, travel."""
    shown = None if drawn is None else {"z": [float(v) for v in drawn["z_mean"]]}
    data = {**_model_data(key, explorer), "drawn": shown, "canvas_key": canvas_key, "recipe": recipe}
    if image is not None:
        pixels = np.clip(np.asarray(image), 0, 255).astype("uint8")
        data["image"] = {"pixels": base64.b64encode(pixels.tobytes()).decode("ascii"), "shape": list(pixels.shape[:2])}
    return _draw(key=key, data=data, height="content")
