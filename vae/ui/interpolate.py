"""Walk the straight line between two latent codes and watch one image turn into another."""
import streamlit as st

from vae.ui.images import show_digit
from vae.ui.latent_view import latent_line
from vae.ui.state import current_point, tab_fragment

PAD, DRAWN, PICKED, TEST = "Latent pad point", "Your drawing", "Picked on the test-set map", "Test set #"


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
    label = explorer.class_names[int(explorer.y_test[index])]
    return explorer.z_test[index], explorer.x_test[index], f"test #{index} (a {label})"


def _first_of_class(explorer, label):
    """The first test image of a class: two classes make a better first morph than two of a kind."""
    matches = (explorer.y_test == label).nonzero()[0]
    return int(matches[0]) if len(matches) else 0


def take_t():
    t = (st.session_state.get("interp_line") or {}).get("t")
    if isinstance(t, (int, float)) and 0.0 <= t <= 1.0:  # anything else from the page is ignored
        st.session_state["interp_t"] = float(t)


@tab_fragment("Interpolate")
def render(explorer):
    # A fragment: changing an endpoint or the steps reruns this section only; scrubbing t
    # reruns nothing, the page decodes it.
    take_t()
    a, b, c = st.columns([2, 2, 2], gap="medium")
    with a:
        z_a, image_a, name_a = _endpoint(explorer, "A", _first_of_class(explorer, 0))
    with b:
        z_b, image_b, name_b = _endpoint(explorer, "B", _first_of_class(explorer, 1))
    with c:
        steps = st.slider("Steps along the line", 3, 24, 10, key="interp_steps")
    st.markdown(f"**From {name_a} to {name_b}**, decoded in your browser at {steps} evenly spaced "
                "points of the straight line in z. Drag the slider to scrub between them.")
    latent_line(explorer, key="interp_line", a=z_a, b=z_b, steps=steps,
                t=st.session_state.get("interp_t", 0.5), labels={"a": name_a, "b": name_b})
    originals = [(im, n, name) for im, n, name in ((image_a, "A", name_a), (image_b, "B", name_b)) if im is not None]
    if originals:
        cols = st.columns(len(originals) + 4)
        for col, (im, label, name) in zip(cols, originals):
            with col:
                show_digit(im, size=84, caption=f"input {label}", alt=f"input {label}: {name}")
