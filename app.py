"""VAE Explorer: `streamlit run app.py`. UI wiring only; the logic lives in `vae/`."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the terminal

import streamlit as st

st.set_page_config(page_title="VAE Explorer", page_icon="🧭", layout="wide")

from vae.ui import (compare, draw, gallery, interpolate, intro, manifold, model_panel, notices, pad,  # noqa: E402
                    page_style, testmap, training)  # noqa: E402
from vae.ml.architectures import headline  # noqa: E402
from vae.data.arrays import DataError  # noqa: E402
from vae.settings import SettingError  # noqa: E402
from vae.store.disk import DEFAULT_MODEL  # noqa: E402
from vae.ui.state import TABS, VIEW_KEY, active_model_name, get_explorer, start_model_loading, switch_model  # noqa: E402
from vae.ui.training import follow_my_jobs  # noqa: E402

page_style.apply()
st.title("VAE Explorer")
caption = st.empty()  # filled once the model, and so its dataset, is known
primer = st.container()  # likewise
notice_slot = st.container()  # what just happened: filled at the end of the run (vae/ui/notices.py)

follow_my_jobs()  # a job of this session that ended with a version makes it this session's model
try:
    name = active_model_name()
except SettingError as err:  # VAE_MODELS_DIR names nothing usable: say which setting and why
    st.error(str(err), icon=":material/settings_alert:")
    st.stop()
if name is None:
    st.error("No trained model found in `models/`. Train one with `python -m vae.train --out models/reference`.")
    st.stop()
try:
    explorer = get_explorer(name)
except DataError as err:
    st.error(f"The bundled dataset failed its check: {err}", icon=":material/error:")
    st.stop()
except Exception as err:  # a damaged or foreign model file: say which, offer the default
    st.error(f"Could not load the model “{name}”: {err}", icon=":material/error:")
    if name != DEFAULT_MODEL and st.button("Back to the shipped model"):
        switch_model(DEFAULT_MODEL)
        st.rerun()
    st.stop()

if explorer.prepared_now and st.session_state.get("_told_prepared") != name:
    st.session_state["_told_prepared"] = name
    notices.notify(f"“{name}” was saved before some of its browser files existed (the decoder, encoder and "
                   "test codes the page runs from): the missing ones were computed once now and saved beside it.",
                   icon=":material/build:")

with primer:
    intro.render(explorer.dataset)
caption.caption(f"{headline(explorer.version.arch, explorer.latent_dim)}, trained on "
                f"{explorer.dataset.title}. Move over the pad, draw, browse and interpolate to see how it "
                f"organises {explorer.noun}s it was never told the labels of.")

with st.sidebar:
    model_panel.sidebar(explorer)
    compare.sidebar_link()

tabs = st.tabs(TABS, key=VIEW_KEY, bind="query-params")
sections = [pad.render, draw.render, testmap.render, manifold.render, interpolate.render,
            training.render, model_panel.render, gallery.render, compare.render]
for tab, section in zip(tabs, sections):
    if tab.open:
        with tab:
            section(explorer)
# The pad starts the model's background load itself, once it is on screen; the gallery and the
# compare view need no Keras model, and importing TensorFlow would slow their first paint.
if not (tabs[0].open or tabs[TABS.index("Gallery")].open or tabs[TABS.index("Compare")].open):
    start_model_loading(explorer)
with notice_slot:
    notices.show()
