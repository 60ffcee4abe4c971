"""Messages about what just happened ("Deleted …", "Your model is ready", an ignored link), shown
as notices in the page, near its top.

Not Streamlit's toast: that is an alertdialog with no accessible name (axe-core's
aria-dialog-name), and it vanishes on a timer, before a screen reader or a slow reader has it.
A notice stays for the run it was made for. Callbacks and fragments queue them in the session;
app.py shows the queue in a slot above the tabs, filled at the end of the run (so a notice made
while drawing a tab shows in the same run)."""
import streamlit as st

QUEUE_KEY = "_notices"


def notify(text, icon=":material/info:"):
    st.session_state.setdefault(QUEUE_KEY, []).append((text, icon))


def show():
    for text, icon in st.session_state.pop(QUEUE_KEY, []):
        st.info(text, icon=icon)
