"""Crisp digit images: nearest-neighbour upscaling, never the browser's blur or JPEG."""
import numpy as np
import streamlit as st

from vae.drawing import upscale

DISPLAY_PX = 280


def show_digit(image, caption=None, size=DISPLAY_PX):
    st.image(upscale(image, size), caption=caption, width=size, output_format="PNG")


def strip(images, gap=4, size=112):
    """A horizontal strip of digits with white gaps, upscaled crisply."""
    spacer = np.full((size, gap), 255, np.uint8)
    parts = []
    for image in images:
        parts += [upscale(image, size), spacer]
    return np.concatenate(parts[:-1], axis=1)
