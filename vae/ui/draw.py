"""Draw a digit and watch the VAE think: what the model sees, where it lands in z-space, what
comes back, and the loss taken apart, all live while the pen moves.

The view beside the canvas (vae.ui.latent_view, draw.js) reads the canvas in the page, runs the
dataset's drawing recipe and the encoder there, and never calls Python during a stroke. When the
pen lifts, the canvas sends the drawing here once: it is encoded again with Keras and kept, so the
drawing can be an endpoint on Interpolate.

Drawing needs a pointer; what the view shows does not: a test image chosen by its number goes
through the same view, and for a dataset of photographs that is the only way in.
"""
import hashlib

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from vae.data.datasets import DATASETS
from vae.data.drawing import DrawingError, decode_canvas_png, drawing_recipe, preprocess_drawing
from vae.ui.latent_view import latent_draw
from vae.ui.state import tab_fragment

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


def _drawing(result, spec):
    """The canvas as a DrawingResult, or None when there is nothing usable; bad data gets a warning.

    The PNG's bytes, not the component's own `image_data`: decode_canvas_png checks the
    size and mode in the header before decoding a pixel.
    """
    try:
        png = result.image_bytes  # base64 of at most server.maxWidgetStateSize: bounded by Streamlit
        return None if png is None else preprocess_drawing(decode_canvas_png(png), spec=spec)
    except DrawingError as err:
        problem = str(err)
    except Exception as err:  # the payload comes from the browser: never let it take the page down
        problem = f"the browser sent a malformed drawing ({type(err).__name__}: {err})"
    st.warning(f"Could not use the drawing: {problem}. Clear the canvas and draw again.",
               icon=":material/warning:")
    return None


TEST_KEY = "draw_test"  # (test index, the canvas' drawing when it was chosen): shown instead of the drawing


def _drawing_token(drawing):
    """What the canvas holds, in a few bytes: a new stroke changes it."""
    usable = drawing is not None and not drawing.is_blank
    return hashlib.sha1(drawing.image.tobytes()).hexdigest() if usable else ""


def _test_image_picker(explorer, token):
    """A test image by its number, taken through the view: the keyboard's way to everything it shows."""
    with st.container(key="draw_test_pick"):
        st.number_input(f"Or a test {explorer.noun}, by number", 0, len(explorer.x_test) - 1, step=1,
                        key="draw_test_number")
        if st.button("Take it through the VAE", key="draw_test_go", icon=":material/input:", width="stretch"):
            st.session_state[TEST_KEY] = (int(st.session_state["draw_test_number"]), token)
    chosen = st.session_state.get(TEST_KEY)
    if chosen is None:
        return None
    if chosen[1] != token:  # the person drew since: the drawing is what they want to see now
        st.session_state.pop(TEST_KEY)
        return None
    index = chosen[0]
    label = explorer.class_names[int(explorer.y_test[index])]
    st.markdown(f"Showing test {explorer.noun} **#{index}**, labelled **{label}**. Draw a stroke to go back to "
                "your drawing.")
    return index


@tab_fragment("Draw")
def render(explorer):
    # A fragment: a stroke reruns this section only.
    if not explorer.dataset.drawable:
        drawable = " or ".join(spec.title for spec in DATASETS.values() if spec.drawable)
        st.info(f"Drawing is for datasets of strokes, like handwritten digits. {explorer.dataset.title} "
                f"{explorer.noun}s are grey photographs, and a mouse sketch says little about where one "
                f"would land. Pick a model trained on {drawable} in the sidebar to draw, or take a test "
                f"{explorer.noun} through the VAE here.", icon=":material/draw:")
        left, right = st.columns([1, 2], gap="large")
        with left:
            index = _test_image_picker(explorer, token="")
        with right:
            latent_draw(explorer, key="draw_view", image=explorer.x_test[index if index is not None else 0])
        return
    left, right = st.columns([1, 2], gap="large")
    with left:
        st.markdown(f"**Draw a {explorer.noun}**")
        st.space("small")  # the canvas toolbar floats above the canvas: keep it off the text
        result = _canvas(st.session_state.get("stroke_width", 18))
        st.caption(f"Use the mouse or a finger: the {explorer.noun} is encoded in this page as you draw.")
        c0, c1 = st.columns([1, 2], vertical_alignment="bottom")
        c0.button("Clear", on_click=_clear, icon=":material/delete:", key="canvas_clear")
        c1.slider("Pen width", 8, 32, 18, key="stroke_width", help="Pen width in canvas pixels")
        drawing = _drawing(result, explorer.dataset)
        if drawing is None or drawing.is_blank:
            st.session_state.pop("drawn", None)
            if drawing is not None and drawing.message:  # ink, but nothing to encode (the plane says what to do)
                st.info(drawing.message, icon=":material/draw:")
        else:
            z_mean, z_log_var = explorer.encode(drawing.image)
            st.session_state["drawn"] = {"z_mean": z_mean, "z_log_var": z_log_var, "image": drawing.image}
            side, box = explorer.image_shape[0], explorer.dataset.ink_box
            st.caption(f"The input is cropped, fit into {box}×{box} and centred by mass in {side}×{side}, "
                       f"as {explorer.dataset.title} was made.")
        index = _test_image_picker(explorer, _drawing_token(drawing))
    with right:
        if index is not None:
            latent_draw(explorer, key="draw_view", image=explorer.x_test[index])
        else:
            latent_draw(explorer, key="draw_view", drawn=st.session_state.get("drawn"), canvas_key=canvas_key(),
                        recipe=drawing_recipe(explorer.dataset))
