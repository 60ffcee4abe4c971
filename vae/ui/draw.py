"""Draw a digit, see what the model sees, where it lands in z-space, and what comes back."""
import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from vae.drawing import BOX, SIZE, DrawingError, decode_canvas_png, preprocess_drawing
from vae.figures import map_figure, set_overlays
from vae.latent import sigma_ellipse
from vae.ui.images import show_digit
from vae.ui.state import session_figure

CANVAS_PX = 280


def canvas_key():
    return f"canvas_{st.session_state.get('canvas_generation', 0)}"


def _clear():
    # A new key remounts the component empty; the toolbar's reset does the same client-side.
    st.session_state["canvas_generation"] = st.session_state.get("canvas_generation", 0) + 1
    st.session_state.pop("drawn", None)


def _canvas(stroke_width):
    args = dict(stroke_width=stroke_width, stroke_color="#000000", background_color="", height=CANVAS_PX,
                width=CANVAS_PX, drawing_mode="freedraw", return_image_data=True)
    try:
        return st_canvas(**args, key=canvas_key())
    except Exception as err:  # the component's state came back in a shape it cannot read
        st.warning(f"The drawing sent by the browser could not be read ({err}); the canvas was reset.")
        _clear()
        return st_canvas(**args, key=canvas_key())


def _drawing(result, size):
    """The canvas as a DrawingResult, or None when there is nothing usable; bad data gets a warning.

    The PNG's bytes, not the component's own `image_data`: decode_canvas_png checks the
    size and mode in the header before decoding a pixel.
    """
    try:
        png = result.image_bytes  # base64 of at most server.maxWidgetStateSize: bounded by Streamlit
        return None if png is None else preprocess_drawing(decode_canvas_png(png), size=size)
    except DrawingError as err:
        problem = str(err)
    except Exception as err:  # the payload comes from the browser: never let it take the page down
        problem = f"the browser sent a malformed drawing ({type(err).__name__}: {err})"
    st.warning(f"Could not use the drawing: {problem}. Clear the canvas and draw again.",
               icon=":material/warning:")
    return None


@st.fragment
def render(explorer):
    # A fragment: a stroke reruns this section only.
    if not explorer.dataset.drawable:
        st.info(f"Drawing is for datasets of strokes, like handwritten digits. {explorer.dataset.title} "
                f"{explorer.noun}s are grey photographs, and a mouse sketch says little about where one "
                "would land. Pick an MNIST model in the sidebar to draw, or browse this one on the "
                "Test-set map.", icon=":material/draw:")
        return
    left, right = st.columns([1, 1.7], gap="large")
    with left:
        st.markdown(f"**Draw a {explorer.noun}**")
        st.space("small")  # the canvas toolbar floats above the canvas: keep it off the text
        result = _canvas(st.session_state.get("stroke_width", 18))
        st.caption(f"Use the mouse or a finger; the {explorer.noun} is encoded when you lift the pen.")
        c0, c1 = st.columns([1, 2], vertical_alignment="bottom")
        c0.button("Clear", on_click=_clear, icon=":material/delete:", key="canvas_clear")
        c1.slider("Pen width", 8, 32, 18, key="stroke_width", help="Pen width in canvas pixels")
        drawing = _drawing(result, explorer.image_shape[0])
        if drawing is None or drawing.is_blank:
            st.session_state.pop("drawn", None)
            st.info(drawing.message if drawing is not None and drawing.message
                    else f"Draw a {explorer.noun} on the canvas above.", icon=":material/draw:")
            z_mean = z_log_var = None
        else:
            z_mean, z_log_var = explorer.encode(drawing.image)
            st.session_state["drawn"] = {"z_mean": z_mean, "z_log_var": z_log_var, "image": drawing.image}
            a, b = st.columns(2)
            with a, st.container(key="draw_input"):
                show_digit(drawing.image, size=112, caption="what the model sees")
            with b, st.container(key="draw_reconstruction"):
                show_digit(explorer.decode_one(z_mean), size=112, caption="reconstruction")
            looks = explorer.looks_like(z_mean)
            looks_name = explorer.class_names[looks.label]
            sigma = np.exp(0.5 * z_log_var)
            st.markdown(f"Encoded at **z = ({z_mean[0]:.2f}, {z_mean[1]:.2f})**, "
                        f"σ = ({sigma[0]:.2f}, {sigma[1]:.2f}).  \n"
                        f"Looks like a **{looks_name}**: {looks.share:.0%} of its {len(looks.neighbours)} "
                        f"nearest test {explorer.noun}s in latent space are {looks_name}s.")
            side = explorer.image_shape[0]
            box = round(side * BOX / SIZE)
            st.caption(f"The input is cropped, fit into {box}×{box} and "
                       f"centred by mass in {side}×{side}, as MNIST was made.")
    with right:
        fig = session_figure("draw_map", explorer, lambda: map_figure(
            explorer.z_test, explorer.y_test, explorer.extent(), height=600, spec=explorer.dataset))
        set_overlays(fig, highlight=z_mean,
                     ellipse=sigma_ellipse(z_mean, z_log_var, n_sigma=2) if z_mean is not None else None)
        st.plotly_chart(fig, key="draw_map", config={"displaylogo": False})
        st.caption(f"★ your {explorer.noun} at its z_mean; the dotted ellipse is 2σ of q(z|x), the encoder's "
                   "uncertainty (it holds 86% of the probability in 2-D).")
