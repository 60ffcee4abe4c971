"""The latent pad: move over the plane and the decoder answers at once, in the browser.

Only kept points (click, tap, release, Enter) come back here; Python then owns the URL,
the number inputs and the trail of kept points.
"""
import numpy as np
import streamlit as st

from vae.ml.latent import MAX_ABS_Z
from vae.ui.latent_view import latent_pad, valid_point
from vae.ui.state import (current_point, point_rev, point_source, set_point, snap, start_model_loading,
                          tab_fragment)

PAD_KEY = "latent_pad"
TRAIL_KEY = "pad_trail"  # points kept this session, oldest first
SEEN_KEY = "pad_seen"  # (page mount id, last sequence number taken)
TRAIL_MAX = 200
HISTORY_MAX = 64  # what the page sends at most (pad.js HISTORY)


def _commits(payload):
    """The new kept points in a "commit" state value, in order; anything malformed is ignored."""
    if not isinstance(payload, dict):
        return None, []
    mount, points = payload.get("id"), payload.get("points")
    if not isinstance(mount, str) or len(mount) > 32 or not isinstance(points, list):
        return None, []
    seen_mount, seen_seq = st.session_state.get(SEEN_KEY, (None, 0))
    last = seen_seq if mount == seen_mount else 0
    fresh = []
    for item in points[-HISTORY_MAX:]:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[2], int)):
            continue
        z = valid_point(item[:2])
        if z is not None and item[2] > last:
            fresh.append((item[2], z))
    fresh.sort(key=lambda pair: pair[0])
    return mount, fresh


def take_commits():
    mount, fresh = _commits((st.session_state.get(PAD_KEY) or {}).get("commit"))
    if not fresh:
        return
    trail = st.session_state.setdefault(TRAIL_KEY, [])
    trail.extend([round(float(v), 3) for v in z] for _, z in fresh)
    del trail[:-TRAIL_MAX]
    st.session_state[SEEN_KEY] = (mount, fresh[-1][0])
    set_point(fresh[-1][1], source="pad")


def input_key(axis, rev):
    """The number inputs are new widgets whenever the point moves (see render)."""
    return f"z{axis}_input@{rev}"


def _from_inputs(rev):
    if rev != point_rev():  # a value for a point that has since moved on
        return
    typed = [st.session_state.get(input_key(axis, rev)) for axis in (0, 1)]
    if any(v is None for v in typed):
        return
    if np.array_equal(snap(typed), st.session_state.get("z")):  # nothing moved: no new revision
        return
    set_point(typed)


def _sample_prior(latent_dim):
    # The prior the KL term pulls every encoding towards: a VAE should decode its samples well.
    set_point(np.random.default_rng().standard_normal(latent_dim))


def _clear_trail():
    st.session_state[TRAIL_KEY] = []


@tab_fragment("Latent pad")
def render(explorer):
    # A fragment: a kept point reruns this section only, and moving the pointer reruns nothing.
    take_commits()
    z = current_point(explorer)
    trail = st.session_state.get(TRAIL_KEY, [])
    show_codes = st.session_state.get("pad_show_map", True)
    # The pad and its image take the full width; the exact controls sit in a row beneath.
    latent_pad(explorer, key=PAD_KEY, point=z, point_rev=point_rev(), point_source=point_source(),
               trail=trail[-TRAIL_MAX:], show_codes=show_codes,
               on_first_view=lambda: start_model_loading(explorer))
    c0, c1, c2, c3 = st.columns([1.3, 1, 1, 1.6], vertical_alignment="bottom")
    c0.toggle("Show the test set", value=True, key="pad_show_map",
              help=f"Each dot is a held-out test {explorer.noun} at its z_mean, coloured by label.")
    # The inputs show the point; their default *is* the point and they are keyed by its
    # revision. A number input the browser re-mounts (a model switch under load does it)
    # reports its default: with Streamlit's default, min_value, that moved the point to
    # (-100, -100). Now a re-mount reports the point itself, and a value typed into an input
    # of an older revision is ignored.
    rev = point_rev()
    for column, axis in ((c1, 0), (c2, 1)):
        column.number_input(f"z[{axis}]", min_value=-MAX_ABS_Z, max_value=MAX_ABS_Z, value=float(z[axis]),
                            step=0.05, format="%.3f", key=input_key(axis, rev), on_change=_from_inputs,
                            args=(rev,))
    c3.button("Sample z from the prior", icon=":material/casino:", key="pad_sample",
              on_click=_sample_prior, args=(explorer.latent_dim,), help="z ~ N(0, I)")
    kept = f"{len(trail)} point{'' if len(trail) == 1 else 's'} kept this session"
    st.caption(f"{kept}. Set z exactly with the inputs, or sample it from the prior; "
               "the URL keeps the point, so a link reproduces this view.")
    if trail:
        st.button("Clear the trail", key="pad_clear_trail", on_click=_clear_trail, icon=":material/clear_all:")
