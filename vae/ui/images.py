"""Crisp images: nearest-neighbour upscaling, never the browser's blur or JPEG."""
import streamlit as st

from vae.data.drawing import upscale

DISPLAY_PX = 280


def show_digit(image, *, alt, caption=None, size=DISPLAY_PX):
    """`alt` says what the image shows, for whoever cannot see it (a caption is not read as one)."""
    st.image(upscale(image, size), caption=caption, width=size, output_format="PNG", alt=alt)
