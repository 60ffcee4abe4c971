import streamlit as st
def sidebar(explorer):
    st.write(explorer.name)
def render(explorer):
    st.write(explorer.metadata.get("metrics"))
