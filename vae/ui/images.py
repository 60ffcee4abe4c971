"""Crisp digit images: nearest-neighbour upscaling, never the browser's blur."""
import numpy as np
import streamlit as st
from PIL import Image

DISPLAY_PX = 280


def to_uint8(image):
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    return image


def crisp(image, size=DISPLAY_PX):
    """(h, w) image in [0, 1] or uint8 → uint8 (size, size·w/h) upscaled with NEAREST."""
    image = to_uint8(image)
    h, w = image.shape
    return np.asarray(Image.fromarray(image).resize((size * w // h, size), Image.NEAREST))


def show_digit(image, caption=None, size=DISPLAY_PX):
    st.image(crisp(image, size), caption=caption, width=size, output_format="PNG")


def strip(images, gap=4, size=112):
    """A horizontal strip of digits with white gaps, upscaled crisply."""
    tiles = [crisp(im, size) for im in images]
    spacer = np.full((size, gap), 255, np.uint8)
    parts = []
    for tile in tiles:
        parts += [tile, spacer]
    return np.concatenate(parts[:-1], axis=1)
