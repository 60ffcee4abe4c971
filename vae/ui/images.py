"""Crisp images: nearest-neighbour upscaling, never the browser's blur or JPEG."""
import streamlit as st

from vae.data.drawing import upscale

DISPLAY_PX = 280


def show_digit(image, caption=None, size=DISPLAY_PX):
    st.image(upscale(image, size), caption=caption, width=size, output_format="PNG")
