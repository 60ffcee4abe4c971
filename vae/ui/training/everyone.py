"""Everyone's jobs: a table of who trains what and where it stands; the operator may stop any."""
import streamlit as st

from vae.jobs.people import display_name
from vae.ui.training.actions import stop
from vae.ui.training.wording import what, where


def everyone(runner, statuses, owner, operator):
    st.markdown("## Everyone's jobs")
    if not statuses:
        st.caption("No jobs yet.")
        return
    rows = [{"who": display_name(s.owner) + (" (you)" if s.owner == owner else ""), "what": what(s.config),
             "where it stands": where(s)} for s in statuses]
    st.table(rows, hide_index=True, border="horizontal")
    active = [s for s in statuses if s.active and s.owner != owner]
    if operator and active:  # only the operator stops other people's jobs
        c0, c1 = st.columns([3, 1], vertical_alignment="bottom")
        chosen = c0.selectbox("Stop someone's job (operator)", [s.id for s in active], key="operator_stop_pick",
                              format_func=lambda i: next(f"{display_name(s.owner)}: {what(s.config)} ({where(s)})"
                                                         for s in active if s.id == i))
        if c1.button("Stop it", key="operator_stop", icon=":material/stop:"):
            stop(runner, chosen, False, owner, operator)
