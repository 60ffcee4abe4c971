"""The operator password on the page: a session unlocks Start, Stop and Delete once.

Each action checks again when it runs, not only by disabling its button: a browser can
send a click on a disabled button.
"""
import streamlit as st

from vae import settings
from vae.operator_password import fingerprint, password_matches

UNLOCKED_KEY = "operator_unlocked"  # session_state: the fingerprint of the password it was unlocked with
LOCKED_MESSAGE = "This needs the operator password: enter it above to unlock this session."


def password():
    return settings.operator_password()


def unlocked():
    """May this session start, stop and delete? Always, when no password is configured."""
    expected = password()
    return expected is None or st.session_state.get(UNLOCKED_KEY) == fingerprint(expected)


def _try_unlock(input_key):
    given = st.session_state.get(input_key, "")
    st.session_state[input_key] = ""  # the password does not stay in the form
    expected = password()
    if expected is not None and password_matches(given, expected):
        st.session_state[UNLOCKED_KEY] = fingerprint(expected)
    else:
        st.session_state[f"{input_key}_error"] = "Wrong operator password."


def unlock_form(where, actions):
    """When locked: say what is locked and how to unlock; when unlocked: say so. `where`
    keeps the widget keys of the Train and Model tabs apart."""
    if password() is None:
        return
    if unlocked():
        st.caption(f":material/lock_open: Operator mode: {actions} are unlocked for this session.")
        return
    where_set = settings.SETTINGS["operator_password"]
    st.info(f"On this server, {actions} need the operator password ({where_set.env} or "
            f"`[vae] {where_set.secret}` in .streamlit/secrets.toml). Enter it to unlock them for this session.",
            icon=":material/lock:")
    key = f"{where}_password"
    with st.form(f"{where}_unlock_form", border=False):  # a form: Enter unlocks too
        c0, c1 = st.columns([3, 1], vertical_alignment="bottom")
        c0.text_input("Operator password", type="password", key=key)
        c1.form_submit_button("Unlock", key=f"{where}_unlock", on_click=_try_unlock, args=(key,),
                              icon=":material/key:")
    if f"{key}_error" in st.session_state:
        st.error(st.session_state.pop(f"{key}_error"))
