"""The Gallery tab: every version this page may open (the sidebar picker's list), each a card with
its two thumbnails and what it is, sorted and filtered; from a card, open it or compare it with
the active model; the operator may feature it or delete it (never a shipped one), and sees the
class: everyone's jobs of this session and the maps of what they made (vae/ui/class_view.py).

The first screen draws PAGE_SIZE cards; "Show more" adds as many again, so a store of a hundred
versions costs a dozen thumbnails, each read (or made, once) and then cached by its revision.
The tab reruns every REFRESH_SECONDS on its own, so a version that lands shows without a click.
"""
import re

import streamlit as st

from vae.explorer.gallery import PAGE_SIZE, SORTS, datasets_in, filter_cards, gallery_cards, owners_from_jobs, sort_cards
from vae.jobs import RunnerUnavailable
from vae.settings import SettingError
from vae.ui import class_view
from vae.ui.browser_identity import browser_owner
from vae.ui.model_panel import delete_version
from vae.ui.notices import show as show_notices
from vae.ui.operator_lock import LOCKED_MESSAGE, unlock_form, unlocked
from vae.ui.state import VIEW_KEY, models_store, switch_model, tab_fragment
from vae.ui.training import job_runner

REFRESH_SECONDS = 5.0  # a version that lands shows within this (plus the store's own listing delay)
SHOWN_KEY = "gallery_shown"
COMPARE_PARAM = "compare"
ALL = "all"


def escape_markdown(text):
    """`text` as literal characters in Streamlit's markdown (a version name is not markup)."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~:$])", r"\\\1", str(text))


@st.cache_resource(max_entries=400, show_spinner=False)
def _thumbnails(location, name, revision):
    # Keyed by revision: new content, new pictures; the same content is read once per server.
    # A resource, not data: Thumbnails holds bytes only (immutable), so no copy at every rerun.
    return models_store().thumbnails(name)


def _jobs():
    """(the job runner's statuses, None) or ([], why not): read once a run, for the cards' owners
    and the class view (each read scans every job's files)."""
    try:
        return job_runner().jobs(), None
    except (RunnerUnavailable, SettingError, OSError) as err:
        return [], err  # the Train tab says why; the cards say "unknown"


def _duration(seconds):
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


# -- what a card's buttons do (callbacks: they run before the page is drawn again)

def _open(name):
    switch_model(name)
    st.session_state[VIEW_KEY] = "Latent pad"


def _compare(a, b):
    st.query_params[COMPARE_PARAM] = f"{a},{b}"
    st.session_state[VIEW_KEY] = "Compare"


def _feature(name, featured):
    if not unlocked():  # checked again: a disabled or hidden button can still be sent by a crafted client
        st.session_state["gallery_error"] = LOCKED_MESSAGE
        return
    try:
        models_store().set_featured(name, featured)
    except OSError as err:
        st.session_state["gallery_error"] = str(err)


# -- drawing

def _card_facts(card):
    what = " · ".join(part for part in (
        card.dataset_title or "unknown dataset", f"{card.arch} architecture" if card.arch else None,
        f"recipe {card.recipe}" if card.recipe else None, f"β {card.beta:g}" if card.beta is not None else None)
        if part)
    cost = (f"{card.epochs} epoch{'' if card.epochs == 1 else 's'}" if card.epochs is not None else "? epochs") + \
        f", {_duration(card.train_seconds)} of training"
    quality = (f"−ELBO **{card.neg_elbo:.1f}** nats" if card.neg_elbo is not None else "−ELBO not measured") + " · " + \
        (f"5-NN **{card.knn5:.1%}**" if card.knn5 is not None else "5-NN not measured")
    whose = "shipped with VAE Explorer" if card.shipped else f"trained by {card.owner_name}"
    when = f", {card.created[:10]}" if card.created else ""
    return f"{escape_markdown(what)}  \n{cost}  \n{quality}  \n{escape_markdown(whose + when)}"


def _pictures(card, location):
    try:
        thumbs = _thumbnails(location, card.name, card.revision)
    except Exception as err:  # damaged on download, or its files cannot be read: the card says so
        st.warning(f"Its pictures could not be made: {err}", icon=":material/broken_image:")
        return
    noun = "items" if card.dataset == "fashion-mnist" else "digits"
    c0, c1 = st.columns(2)
    # output_format="PNG": served as made. Left "auto", Streamlit decodes each PNG and encodes it
    # again as a JPEG at every rerun (the tab's refresh too): most of a card's cost, and blurred dots.
    c0.image(thumbs.latent_map, width="stretch", output_format="PNG",
             alt=f"Latent map of {card.name}: every test image at its code, coloured by its label")
    c1.image(thumbs.manifold, width="stretch", output_format="PNG",
             alt=f"Manifold of {card.name}: an 8 by 8 grid of {noun} decoded across its latent map")


def _card(index, card, active, location, operator):
    with st.container(border=True, key=f"gallery_card_{index}"):
        star = " ★" if card.featured else ""
        st.markdown(f"### {escape_markdown(card.name)}{star}")
        if card.featured:
            st.markdown("**Featured** by the operator")
        if card.damage:
            st.warning(f"Damaged: {card.damage}. It cannot be opened.", icon=":material/broken_image:")
        else:
            _pictures(card, location)
            st.markdown(_card_facts(card))
            c0, c1 = st.columns(2)
            c0.button("Open", key=f"gallery_open_{index}", on_click=_open, args=(card.name,),
                      icon=":material/open_in_new:", disabled=card.name == active, width="stretch",
                      help=f"Make “{card.name}” this session's model")
            c1.button("Compare", key=f"gallery_compare_{index}", on_click=_compare, args=(active, card.name),
                      icon=":material/compare:", disabled=card.name == active, width="stretch",
                      help=f"“{active}” (the active model) and “{card.name}” side by side")
        if not operator:
            return
        c0, c1 = st.columns(2)
        if not card.damage:
            c0.button("Unfeature" if card.featured else "Feature", key=f"gallery_feature_{index}",
                      on_click=_feature, args=(card.name, not card.featured), icon=":material/star:",
                      width="stretch")
        if not card.shipped:
            with c1.popover("Delete…", icon=":material/delete:", width="stretch"):
                sure = st.checkbox(f"Yes, delete “{card.name}” for good", key=f"gallery_sure_{card.name}")
                st.button("Delete this version", key=f"gallery_delete_{index}", disabled=not sure,
                          on_click=delete_version, args=(card.name, "gallery_error", active),
                          icon=":material/delete_forever:")


def _controls(cards, owner):
    c0, c1, c2 = st.columns([2, 2, 1], vertical_alignment="bottom")
    by = c0.selectbox("Sort by", list(SORTS), format_func=SORTS.get, key="gallery_sort")
    datasets = datasets_in(cards)
    dataset = c1.selectbox("Dataset", [ALL, *datasets], key="gallery_dataset",
                           format_func=lambda key: "All datasets" if key == ALL else datasets[key])
    mine = c2.toggle("Only mine", key="gallery_mine", disabled=owner is None,
                     help="The versions your own training jobs made in this browser")
    return by, (None if dataset == ALL else dataset), (owner if mine and owner else None)


@tab_fragment("Gallery", run_every=REFRESH_SECONDS)
def render(explorer):
    st.header("Gallery of model versions")
    show_notices()  # a delete from a card reruns this tab only
    store = models_store()
    if store.problem:
        st.warning(store.problem, icon=":material/cloud_off:")
    operator = unlocked()
    with st.expander("Operator: feature and delete versions", expanded=False):
        unlock_form("gallery", "featuring and deleting")
        if operator:
            st.markdown("Unlocked: every card shows Feature, and Delete unless it ships with VAE Explorer.")
    if "gallery_error" in st.session_state:
        st.error(st.session_state.pop("gallery_error"))
    owner = browser_owner()
    statuses, jobs_error = _jobs()
    cards = gallery_cards(store.entries(), store.featured(), owners_from_jobs(statuses))
    if operator:
        class_view.render({c.name: c for c in cards},
                          lambda card: _thumbnails(store.location, card.name, card.revision).latent_map,
                          statuses, jobs_error)
        st.markdown("## Every version")
    by, dataset, only_owner = _controls(cards, owner)
    chosen = sort_cards(filter_cards(cards, dataset, only_owner), by)
    shown = st.session_state.get(SHOWN_KEY, PAGE_SIZE)
    st.markdown(f"Showing {min(shown, len(chosen))} of {len(chosen)} version{'' if len(chosen) == 1 else 's'}"
                + ("" if len(chosen) == len(cards) else f" (of {len(cards)} in all)") + ".")
    page = chosen[:shown]
    for row in range(0, len(page), 3):  # row by row: a screen reader meets the cards in the order seen
        for offset, column in enumerate(st.columns(3)):
            if row + offset < len(page):
                with column:
                    _card(row + offset, page[row + offset], explorer.name, store.location, operator)
    if len(chosen) > shown:
        st.button(f"Show more ({min(PAGE_SIZE, len(chosen) - shown)} of {len(chosen) - shown} left)",
                  key="gallery_more", icon=":material/expand_more:",
                  on_click=lambda: st.session_state.__setitem__(SHOWN_KEY, shown + PAGE_SIZE))
