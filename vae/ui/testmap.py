"""Every held-out test image at its z_mean: zoom, hover, click one to inspect it."""
import streamlit as st

from vae.explorer.figures import map_figure
from vae.ui.state import session_figure, tab_fragment
from vae.ui.images import show_digit
from vae.ui.latent_view import latent_draw

MAP_KEY = "map_chart"


def picked_index():
    """Test-set index of the last clicked image; kept when a second click deselects it."""
    event = st.session_state.get(MAP_KEY)
    points = (event or {}).get("selection", {}).get("points", [])
    for point in points:
        index = point.get("customdata")
        if isinstance(index, list):
            index = index[0] if index else None
        if isinstance(index, (int, float)):
            st.session_state["picked_test"] = int(index)
            break
    return st.session_state.get("picked_test")


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
    with right:
        if picked is None:
            st.info(f"Click a dot to see that test {explorer.noun} and its reconstruction.",
                    icon=":material/ads_click:")
            return
        label = explorer.class_names[int(explorer.y_test[picked])]
        z = explorer.z_test[picked]
        st.markdown(f"**Test {explorer.noun} #{picked}**, labelled **{label}**")
        with st.container(key="map_original"):
            show_digit(explorer.x_test[picked], size=168, caption="original")
        with st.container(key="map_reconstruction"):
            show_digit(explorer.decode_one(z), size=168, caption="reconstruction (from z_mean)")
        st.markdown(f"z_mean = ({z[0]:.2f}, {z[1]:.2f})")
    # The picked image through the whole VAE, in the page: encoded, sampled, and its loss taken apart
    st.markdown(f"**Test {explorer.noun} #{picked} through the VAE**")
    latent_draw(explorer, key="map_view", image=explorer.x_test[picked])
