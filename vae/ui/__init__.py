"""Streamlit sections of the explorer. The only part of `vae` that imports Streamlit."""
