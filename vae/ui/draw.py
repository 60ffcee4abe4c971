"""Draw a digit, see what the model sees, where it lands in z-space, and what comes back."""
import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from vae.drawing import preprocess_drawing
from vae.figures import map_figure
from vae.latent import sigma_ellipse
from vae.ui.images import show_digit

CANVAS_PX = 280


def canvas_key():
    return f"canvas_{st.session_state.get('canvas_generation', 0)}"


def _clear():
    # A new key remounts the component empty; the toolbar's reset does the same client-side.
    st.session_state["canvas_generation"] = st.session_state.get("canvas_generation", 0) + 1
    st.session_state.pop("drawn", None)


def _canvas_image(result):
    try:
        return result.image_data
    except Exception as err:  # a malformed payload must not take the page down
        st.warning(f"Could not read the drawing ({err}). Clear the canvas and try again.")
        return None


def render(explorer):
    left, middle = st.columns([1, 1], gap="large")
    with left:
        st.markdown("**Draw a digit** with the mouse or a finger")
        result = st_canvas(stroke_width=st.session_state.get("stroke_width", 18), stroke_color="#000000",
                           background_color="", height=CANVAS_PX, width=CANVAS_PX,
                           drawing_mode="freedraw", return_image_data=True, key=canvas_key())
        c0, c1 = st.columns([1, 2])
        c0.button("Clear", on_click=_clear, icon=":material/delete:", key="canvas_clear")
        c1.slider("Pen width", 8, 32, 18, key="stroke_width", label_visibility="collapsed",
                  help="Pen width in canvas pixels")
    rgba = _canvas_image(result)
    drawing = preprocess_drawing(rgba) if rgba is not None else None
    with middle:
        if drawing is None or drawing.is_blank:
            st.session_state.pop("drawn", None)
            st.info(drawing.message if drawing is not None and drawing.message
                    else "Draw a digit on the canvas: it is encoded as soon as you lift the pen.",
                    icon=":material/draw:")
            return
        z_mean, z_log_var = explorer.encode(drawing.image)
        st.session_state["drawn"] = {"z_mean": z_mean, "z_log_var": z_log_var, "image": drawing.image}
        looks = explorer.looks_like(z_mean)
        a, b = st.columns(2)
        with a:
            st.markdown("**What the model sees**")
            show_digit(drawing.image, size=140)
            st.caption("Cropped, fit into 20×20, centred by mass in 28×28, as MNIST was made.")
        with b:
            st.markdown("**Reconstruction**")
            show_digit(explorer.decode_one(z_mean), size=140)
            st.caption("Decoded from z_mean.")
        sigma = np.exp(0.5 * z_log_var)
        st.markdown(f"Encoded at **z = ({z_mean[0]:.2f}, {z_mean[1]:.2f})**, "
                    f"σ = ({sigma[0]:.2f}, {sigma[1]:.2f})")
        st.markdown(f"Looks like a **{looks.label}**: {looks.share:.0%} of its "
                    f"{len(looks.neighbours)} nearest test digits in latent space are {looks.label}s.")
    ellipse = sigma_ellipse(z_mean, z_log_var, n_sigma=2)
    extent = explorer.extent()
    fig = map_figure(explorer.z_test, explorer.y_test, extent, height=520,
                     highlight=z_mean, ellipse=ellipse)
    st.plotly_chart(fig, key="draw_map", config={"displaylogo": False})
    st.caption("★ your digit at its z_mean; the dotted ellipse is 2σ of q(z|x), the encoder's uncertainty.")
