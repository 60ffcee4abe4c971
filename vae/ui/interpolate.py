def render(explorer):
    import streamlit as st
    st.info("coming")
