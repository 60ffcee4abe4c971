"""Walk the straight line between two latent codes and watch one digit turn into another."""
import plotly.graph_objects as go
import streamlit as st

from vae.figures import map_figure
from vae.latent import interpolate
from vae.ui.images import show_digit, strip
from vae.ui.state import current_point, session_figure

PAD, DRAWN, PICKED, TEST = "Latent pad point", "Your drawn digit", "Digit picked on the map", "Test digit #"


def _sources():
    sources = [TEST, PAD]
    if "drawn" in st.session_state:
        sources.append(DRAWN)
    if st.session_state.get("picked_test") is not None:
        sources.append(PICKED)
    return sources


def _endpoint(explorer, side, default_index):
    """Let the user choose one endpoint; returns (z, image or None, description)."""
    source = st.selectbox(f"Endpoint {side}", _sources(), key=f"interp_src_{side}")
    if source == PAD:
        z = current_point(explorer)
        return z, None, f"pad point ({z[0]:.2f}, {z[1]:.2f})"
    if source == DRAWN:
        image = st.session_state["drawn"]["image"]
        return explorer.encode(image)[0], image, "your drawing"  # encoded by this model
    index = (st.session_state["picked_test"] if source == PICKED else
             st.number_input("test index", 0, len(explorer.x_test) - 1, default_index,
                             key=f"interp_idx_{side}", label_visibility="collapsed"))
    index = int(index)
    return explorer.z_test[index], explorer.x_test[index], f"test #{index} (a {explorer.y_test[index]})"


def _path_map(explorer):
    """The test-set map plus two traces this section moves: the path and the point at t."""
    fig = map_figure(explorer.z_test, explorer.y_test, explorer.extent(), height=440)
    # WebGL like the map: plotly draws SVG traces beneath every WebGL layer
    fig.add_trace(go.Scattergl(x=[], y=[], mode="lines+markers+text", name="path", textposition="top center",
                             line=dict(color="#111", width=2), marker=dict(size=6, color="#111")))
    fig.add_trace(go.Scattergl(x=[], y=[], mode="markers", name="t", showlegend=False,
                             marker=dict(size=14, color="#ffd400", line=dict(width=2, color="#111"))))
    return fig


@st.fragment
def render(explorer):
    # A fragment: moving t or the steps reruns this section only.
    a, b, c = st.columns([2, 2, 2], gap="medium")
    with a:
        z_a, image_a, name_a = _endpoint(explorer, "A", 3)
    with b:
        z_b, image_b, name_b = _endpoint(explorer, "B", 2)
    with c:
        steps = st.slider("Steps along the line", 3, 24, 10, key="interp_steps")
    path = interpolate(z_a, z_b, steps)
    st.markdown(f"**From {name_a} to {name_b}**, decoded at {steps} evenly spaced points of the straight line in z")
    st.image(strip(explorer.decode(path), size=84), width="content", output_format="PNG")
    left, right = st.columns([1, 2], gap="large")
    with left:
        t = st.slider("Position along the line (t)", 0.0, 1.0, 0.5, 0.01, key="interp_t")
        z_t = interpolate(z_a, z_b, 101)[int(round(t * 100))]  # t moves in steps of 0.01
        show_digit(explorer.decode_one(z_t), size=224,
                   caption=f"t = {t:.2f}, z = ({z_t[0]:.2f}, {z_t[1]:.2f})")
        originals = [(im, n) for im, n in ((image_a, "A"), (image_b, "B")) if im is not None]
        if originals:
            cols = st.columns(len(originals))
            for col, (im, label) in zip(cols, originals):
                with col:
                    show_digit(im, size=84, caption=f"input {label}")
    with right:
        fig = session_figure("interp_map", explorer, lambda: _path_map(explorer))
        path_trace, t_trace = fig.data[-2:]
        path_trace.x, path_trace.y = path[:, 0].tolist(), path[:, 1].tolist()
        path_trace.text = ["A"] + [""] * (steps - 2) + ["B"]
        t_trace.x, t_trace.y = [float(z_t[0])], [float(z_t[1])]
        st.plotly_chart(fig, key="interp_map", config={"displaylogo": False})
