"""Every held-out test image at its z_mean: zoom, hover, click one to inspect it, or pick one
by its number or class from the keyboard; and the map in numbers beside it."""
import numpy as np
import streamlit as st

from vae.explorer.figures import map_figure
from vae.explorer.summaries import class_spreads, map_sentence, spread_rows
from vae.ui.state import session_figure, tab_fragment
from vae.ui.images import show_digit
from vae.ui.latent_view import latent_draw

MAP_KEY = "map_chart"
PICKED = "picked_test"
SEEN_SELECTION = "map_seen_selection"  # the chart's selection last taken, so a later pick by keyboard sticks


def picked_index():
    """Test-set index of the last image picked: clicked on the chart (a second click that
    deselects keeps it), or chosen by number or class."""
    event = st.session_state.get(MAP_KEY)
    points = (event or {}).get("selection", {}).get("points", [])
    if repr(points) == st.session_state.get(SEEN_SELECTION):  # the chart reports its selection on every run
        return st.session_state.get(PICKED)
    st.session_state[SEEN_SELECTION] = repr(points)
    for point in points:
        index = point.get("customdata")
        if isinstance(index, list):
            index = index[0] if index else None
        if isinstance(index, (int, float)):
            st.session_state[PICKED] = st.session_state["map_pick_number"] = int(index)  # the field shows the click
            break
    return st.session_state.get(PICKED)


def _pick_number():
    st.session_state[PICKED] = int(st.session_state["map_pick_number"])


def _pick_random(explorer):
    label = explorer.class_names.index(st.session_state["map_pick_class"])
    pick = int(np.random.default_rng().choice(np.flatnonzero(explorer.y_test == label)))
    st.session_state[PICKED] = st.session_state["map_pick_number"] = pick


def _keyboard_pick(explorer):
    """The same pick as a click on a dot, without a pointer: by number, or a random one of a class."""
    st.session_state.setdefault("map_pick_number", st.session_state.get(PICKED) or 0)
    with st.container(key="map_pick"):
        st.number_input(f"Test {explorer.noun} number", 0, len(explorer.x_test) - 1, step=1, key="map_pick_number",
                        on_change=_pick_number, help="Type a number and press Enter to inspect that image")
        st.selectbox("Class", explorer.class_names, key="map_pick_class")
        st.button("A random one of this class", key="map_pick_random", on_click=_pick_random, args=(explorer,),
                  width="stretch", icon=":material/casino:")


def _in_numbers(explorer):
    """The map for readers: a sentence, and each class's centre and spread in a table."""
    spreads = class_spreads(explorer.z_test, explorer.y_test, explorer.class_names)
    st.markdown(map_sentence(spreads, explorer.noun))
    with st.expander("The map in numbers: each class's centre and spread"):
        st.table(spread_rows(spreads), hide_index=True, border="horizontal")


@tab_fragment("Test-set map")
def render(explorer):
    picked = picked_index()
    left, right = st.columns([3, 1], gap="large")
    with left:
        # The figure never changes, so Streamlit keeps the chart mounted: zoom and the
        # classes hidden from the legend survive a pick. Plotly itself marks the picked dot.
        fig = session_figure("test_map", explorer, lambda: map_figure(
            explorer.z_test, explorer.y_test, explorer.extent(), height=620, spec=explorer.dataset))
        st.plotly_chart(fig, key=MAP_KEY, on_select="rerun", selection_mode="points",
                        config={"displaylogo": False})
        st.caption(f"Every held-out test {explorer.noun} at its z_mean. Scroll or drag to zoom, double-click "
                   "to reset, click a legend entry to hide a class, click a dot to inspect it.")
        _in_numbers(explorer)
    with right:
        _keyboard_pick(explorer)
        if picked is None:
            st.info(f"Click a dot, or choose a number or a class above, to see that test {explorer.noun} "
                    "and its reconstruction.", icon=":material/ads_click:")
            return
        label = explorer.class_names[int(explorer.y_test[picked])]
        z = explorer.z_test[picked]
        st.markdown(f"**Test {explorer.noun} #{picked}**, labelled **{label}**")
        with st.container(key="map_original"):
            show_digit(explorer.x_test[picked], size=168, caption="original",
                       alt=f"test {explorer.noun} #{picked}, labelled {label}")
        with st.container(key="map_reconstruction"):
            show_digit(explorer.decode_one(z), size=168, caption="reconstruction (from z_mean)",
                       alt=f"its reconstruction, decoded from z_mean = ({z[0]:.2f}, {z[1]:.2f})")
        st.markdown(f"z_mean = ({z[0]:.2f}, {z[1]:.2f})")
    # The picked image through the whole VAE, in the page: encoded, sampled, and its loss taken apart
    st.markdown(f"**Test {explorer.noun} #{picked} through the VAE**")
    latent_draw(explorer, key="map_view", image=explorer.x_test[picked])
