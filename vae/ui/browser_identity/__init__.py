"""This browser's owner id for training jobs (vae.jobs.people), from a cookie.

The cookie holds a random secret that identity.js makes once per browser; every tab and
every reload presents it, so they all find the same jobs, while a link shared with someone
else carries nothing. A server reads cookies when a page connects (st.context.cookies); on
the very first visit the script sends the new secret once.
"""
from pathlib import Path

import streamlit as st

from vae.jobs.people import owner_id

COOKIE = "vae_browser"
KEY = "browser_identity"

_identity = st.components.v2.component("vae_browser_identity", js=(Path(__file__).parent / "identity.js").read_text())


def _delivered(_value=None):
    """Streamlit keeps a component's state value only when it has a change callback."""


def browser_owner():
    """This browser's owner id, or None until the page has told it (one rerun on a first visit)."""
    owner = owner_id(st.context.cookies.get(COOKIE))
    if owner is None:
        owner = owner_id((st.session_state.get(KEY) or {}).get("token"))
    _identity(key=KEY, data={"needed": owner is None}, height=0, on_token_change=_delivered)
    return owner
