"""The reference figure: an n×n grid of images decoded from evenly spaced latent points."""
import streamlit as st

from vae.explorer.figures import manifold_figure, manifold_figure_png
from vae.ml.latent import manifold


def render(explorer):
    (x0, x1), (y0, y1) = explorer.extent()
    data_half = round(max(abs(x0), abs(x1), abs(y0), abs(y1)), 1)
    c0, c1, c2 = st.columns([2, 2, 1], vertical_alignment="bottom")
    n = c0.slider(f"Grid size n (n × n {explorer.noun}s)", 5, 60, 30, key="manifold_n", bind="query-params")
    half = c1.slider("Range: z from −r to +r on both axes", 0.2, 6.0, min(max(data_half, 0.5), 6.0), 0.1,
                     key="manifold_r", help=f"The reference figure uses r = 1.0. The test {explorer.noun}s of this "
                                            f"model lie within about ±{data_half}.")
    tiled, grid_x, grid_y = manifold(explorer.decode, n, -half, half)
    st.plotly_chart(manifold_figure(tiled, grid_x, grid_y), key="manifold_chart",
                    config={"displaylogo": False})
    c2.download_button("PNG", data=lambda: manifold_figure_png(tiled, grid_x, grid_y, figsize=12),
                       file_name=f"vae-manifold-{explorer.name}-n{n}-r{half}.png", mime="image/png", on_click="ignore",
                       icon=":material/download:", help="The reference figure, with axes, as a PNG")
    st.caption(f"{n * n} {explorer.noun}s decoded in one batch. Neighbouring cells are neighbouring points "
               f"in z: {explorer.noun}s morph smoothly into each other, which is what makes a VAE's latent "
               "space useful.")
