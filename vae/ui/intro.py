"""A short, honest primer for learners, folded away for everyone else."""
import streamlit as st

PRIMER = """
A **variational autoencoder** learns two networks at once. The **encoder** maps a {rows}×{cols}
image to a small Gaussian in a 2-D *latent space*: a mean `z_mean` and a spread
`exp(0.5·z_log_var)`. The **decoder** maps any point `z` of that plane back to an image.
Training asks for two things: decoded samples should look like the input
(*reconstruction*, binary cross-entropy summed over pixels), and every encoding should stay
close to a standard normal (*KL divergence*). The second pull is what packs the images
into one smooth, gap-free region, so that **every** point decodes to something that looks like a real image.

- **Latent pad**: the decoder alone. Move over it; nearby points give similar images.
- **Draw**: the encoder on your own handwriting; the ellipse shows how unsure it is.
- **Test-set map**: where the {n_test:,} held-out test images land. Classes form regions the model
  was never told about: it never saw a label.
- **Manifold**: the decoder on a regular grid, the figure from the reference post.
- **Interpolate**: straight lines in z decode to smooth morphs between images.
- **Train**: watch the map form, epoch by epoch.

Numbers are in *nats per image*. **−ELBO** = reconstruction + KL (summed over the two
latent dims), lower is better; **5-NN accuracy** tells how well labels can be read off the
map by a nearest-neighbour vote.
"""


def render(dataset):
    """The primer, with the sizes of `dataset` (the active model's DatasetSpec)."""
    rows, cols = dataset.image_shape
    with st.expander("New to VAEs? How to read this page", icon=":material/school:"):
        st.markdown(PRIMER.format(rows=rows, cols=cols, n_test=dataset.n_test))
