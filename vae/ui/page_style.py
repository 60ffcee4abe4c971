"""The page's CSS (vae/ui/page.css): spacing, heading sizes, focus rings and reduced motion."""
from pathlib import Path

import streamlit as st

PAGE_CSS = (Path(__file__).parent / "page.css").read_text()


def apply():
    st.html(f"<style>{PAGE_CSS}</style>")
