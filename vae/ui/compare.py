"""The Compare tab: two versions side by side, from the gallery, the sidebar or a link
`?compare=A,B`. Their planes are linked in the page (vae/ui/latent_view/compare.js), B's map is
aligned onto A's by Procrustes (a toggle shows it raw), and their metrics and training curves sit
together. A link that names no usable pair says why, and the page offers a pair instead.
"""
import streamlit as st

from vae.explorer.compare import (align_maps, class_rows, curves_figure, default_pair, metric_rows, parse_compare,
                                  per_class_knn)
from vae.ui.latent_view import IN_BROWSER, _component
from vae.ui.state import VIEW_KEY, available_models, get_explorer, models_store, tab_fragment

COMPARE_PARAM = "compare"
VIEW = "latent_compare"
_view = _component("compare")


@st.cache_data(max_entries=16, show_spinner=False)
def _class_knn(key, _codes, _labels, n_classes):
    # Keyed by the explorer's browser key (name and model hash): 10k codes cost about a second.
    return per_class_knn(_codes, _labels, n_classes)


def _view_data(explorers):
    """The two models' keys, plus the browser data of those the page does not hold (see
    vae.ui.latent_view._model_data: the same "have" handshake, for two models)."""
    keys = [e.browser_key for e in explorers]
    held = st.session_state.setdefault(IN_BROWSER, set())
    state = st.session_state.get(VIEW) or {}
    if isinstance(state.get("have"), list):
        held.update(key for key in state["have"] if key in keys)
    elif "have" in state and state["have"] is None:  # the page lost a copy: send both again
        held.difference_update(keys)
    return {"models": keys, "payloads": [e.browser_payload() for e in explorers if e.browser_key not in held]}


def _picked():
    st.query_params[COMPARE_PARAM] = f"{st.session_state['compare_a']},{st.session_state['compare_b']}"


def open_compare():
    """A callback: open the Compare tab (on the link's pair, or the active model and another)."""
    st.session_state[VIEW_KEY] = "Compare"


def sidebar_link():
    st.button("Compare two versions", key="sidebar_compare", on_click=open_compare, icon=":material/compare:",
              width="stretch", help="Two versions side by side: linked pads, aligned maps, metrics and curves")


def _pair(explorer):
    """The two names to compare, the widgets following a new link; None when there are not two."""
    names = available_models()
    damage = {e.name: e.damage for e in models_store().entries() if e.damage}
    raw = st.query_params.get(COMPARE_PARAM)
    request = parse_compare(raw, names, damage)
    if request.problem:
        st.warning(request.problem, icon=":material/link_off:")
    pair = (request.a, request.b) if request.a else default_pair(explorer.name, names, damage)
    sound = [name for name in names if not damage.get(name)]
    if pair[1] is None:
        st.info("Only one version can be opened here: train another (the Train tab) to compare two.")
        return None
    if st.session_state.get("_compare_from") != (raw, pair):  # a new link or gallery click: the pickers follow
        st.session_state["_compare_from"] = (raw, pair)
        st.session_state["compare_a"], st.session_state["compare_b"] = pair
    c0, c1 = st.columns(2)
    a = c0.selectbox("Version A", sound, key="compare_a", on_change=_picked)
    b = c1.selectbox("Version B", sound, key="compare_b", on_change=_picked)
    if a == b:
        st.warning("A and B are the same version: pick a second one.", icon=":material/warning:")
        return None
    return a, b


def _maps(explorers, names):
    a, b = explorers
    alignment = align_maps(a.z_test, b.z_test, same_test_set=a.dataset.name == b.dataset.name)
    aligned = st.toggle("Align B's map onto A's (Procrustes)", value=alignment.fit is not None,
                        key="compare_aligned", disabled=alignment.fit is None,
                        help="B's test codes rotated, mirrored, scaled and shifted to lie best on A's "
                             "(fitted on the same test images). Off: both maps raw, the same z decoded by both.")
    fit = alignment.fit
    if fit is None:
        st.markdown(f"No alignment: {alignment.why_not}.")
    else:
        st.markdown(
            f"Procrustes fit of B onto A: turned by {fit.angle_degrees:.0f}°"
            f"{', mirrored' if fit.reflected else ''}, scaled ×{fit.scale:.2f}. "
            f"Residual **{fit.residual:.3f}** (0: B's map is A's, turned and scaled; about 1: unrelated maps).")
    data = {**_view_data(explorers), "names": list(names), "aligned": bool(aligned and fit is not None),
            "fit": fit.as_json() if fit is not None else None,
            "extent_raw": alignment.extent_raw, "extent_aligned": alignment.extent_aligned}
    _view(key=VIEW, data=data, height="content")


def _numbers(explorers, names):
    a, b = explorers
    st.subheader("Held-out metrics")
    rows = metric_rows(a.metadata, b.metadata)
    if rows:
        st.table([{"metric": r["metric"], f"A: {names[0]}": r["A"], f"B: {names[1]}": r["B"], "B − A": r["B − A"],
                   "better": r["better"]} for r in rows])
    if a.dataset.name == b.dataset.name:
        st.subheader("5-NN accuracy by class")
        st.markdown(f"Each test {a.noun}'s 5 nearest other test {a.noun}s vote for its label "
                    "(the training codes are not kept with a version).")
        knn_a, knn_b = (_class_knn(e.browser_key, e.z_test, e.y_test, len(e.class_names)) for e in explorers)
        st.table([{"class": r["metric"].split("class ")[1].split(" (")[0], f"A: {names[0]}": r["A"],
                   f"B: {names[1]}": r["B"], "B − A": r["B − A"], "better": r["better"]}
                  for r in class_rows(a.class_names, knn_a, knn_b)])
    st.subheader("Training curves")
    st.plotly_chart(curves_figure(names[0], a.metadata.get("history"), names[1], b.metadata.get("history")),
                    key="compare_curves")
    st.markdown("−ELBO per image by epoch: solid lines are training batches, dotted the held-out validation "
                "slice. A in blue, B in red.")


@tab_fragment("Compare")
def render(explorer):
    st.header("Compare two versions")
    pair = _pair(explorer)
    if pair is None:
        return
    explorers = []
    for name in pair:
        try:
            explorers.append(explorer if name == explorer.name else get_explorer(name))
        except Exception as err:  # damaged since listed, or a foreign file: say which, keep the page
            st.error(f"“{name}” could not be opened: {err}", icon=":material/error:")
            return
    _maps(explorers, pair)
    _numbers(explorers, pair)
