"""The latent pad: click anywhere in z-space and see the decoded digit at once."""
import numpy as np
import streamlit as st

from vae.figures import pad_figure
from vae.ui.images import show_digit
from vae.ui.state import current_point, session_figure, set_point

PAD_KEY = "pad_chart"


def clicked_point():
    """The newly clicked point, or None.

    Plotly reports a click as a selection, and the selection stays in
    session_state across reruns (clicking the same point again deselects it),
    so we remember the last click and only react to a new one.
    """
    event = st.session_state.get(PAD_KEY)
    points = (event or {}).get("selection", {}).get("points", [])
    if not points:
        st.session_state.pop("pad_last_click", None)  # deselected: the next click counts again
        return None
    point = (float(points[0]["x"]), float(points[0]["y"]))
    if point == st.session_state.get("pad_last_click"):
        return None
    st.session_state["pad_last_click"] = point
    return np.array(point, dtype="float32")


def _move_away(z):
    """Set the point by other means than a click: clicking the last clicked point counts again."""
    st.session_state.pop("pad_last_click", None)
    set_point(z)


def _from_inputs():
    _move_away([st.session_state["z0_input"], st.session_state["z1_input"]])


def _sample_prior(latent_dim):
    # The prior the KL term pulls every encoding towards: a VAE should decode its samples well.
    _move_away(np.random.default_rng().standard_normal(latent_dim))


@st.fragment
def render(explorer):
    # A fragment: a click reruns this section only, not the sidebar and the page around it.
    new_point = clicked_point()
    if new_point is not None:
        set_point(new_point)
    z = current_point(explorer)
    st.session_state.setdefault("z0_input", float(round(z[0], 3)))
    st.session_state.setdefault("z1_input", float(round(z[1], 3)))

    left, right = st.columns([3, 2], gap="large")
    # The digit is written first so it reaches the browser before the 400 KB chart does.
    with right:
        looks = explorer.looks_like(z)
        st.markdown(f"**Decoded digit** at z = ({z[0]:.2f}, {z[1]:.2f})")
        with st.container(key="pad_digit"):
            show_digit(explorer.decode_one(z))
        st.markdown(f"Looks like a **{looks.label}**: {looks.share:.0%} of the "
                    f"{len(looks.neighbours)} nearest test digits are {looks.label}s.")
        c0, c1 = st.columns(2)
        c0.number_input("z[0]", min_value=-100.0, max_value=100.0, step=0.05, format="%.3f",
                        key="z0_input", on_change=_from_inputs)
        c1.number_input("z[1]", min_value=-100.0, max_value=100.0, step=0.05, format="%.3f",
                        key="z1_input", on_change=_from_inputs)
        st.button("Sample z from the prior N(0, I)", icon=":material/casino:", key="pad_sample",
                  on_click=_sample_prior, args=(explorer.latent_dim,))
        st.caption("Set z exactly here, or sample it. The URL keeps the point, so a link reproduces this view.")
    with left:
        show_map = st.toggle("Show the test digits underneath", value=True, key="pad_show_map",
                             help="Each dot is a held-out test digit at its z_mean, coloured by label.")
        fig = session_figure(f"pad_{show_map}", explorer, lambda: pad_figure(
            explorer.extent(), (0.0, 0.0), explorer.z_test if show_map else None, explorer.y_test))
        fig.data[-1].x, fig.data[-1].y = [float(z[0])], [float(z[1])]
        st.plotly_chart(fig, key=PAD_KEY, on_select="rerun", selection_mode="points",
                        config={"displayModeBar": False, "scrollZoom": False})
        st.caption("Click anywhere on the pad to decode that point of the latent space.")
