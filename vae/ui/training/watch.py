"""The jobs this session started: when one ends with a version, this session's explorer shows it."""
import streamlit as st

from vae.jobs import RunnerUnavailable
from vae.settings import SettingError
from vae.ui.notices import notify
from vae.ui.state import switch_model
from vae.ui.training.runner import job_runner

WATCHED_KEY = "jobs_watched"  # ids of this session's jobs seen active: their end switches the model


def follow_my_jobs(statuses=None):
    """Called on every full run: when a job this session watched has ended with a version,
    that version becomes this session's model (nobody else's), once. `statuses`: the jobs,
    if the caller has just read them."""
    watched = st.session_state.get(WATCHED_KEY)
    if not watched:
        return
    try:
        statuses = {s.id: s for s in (job_runner().jobs() if statuses is None else statuses)}
    except (RunnerUnavailable, SettingError, OSError):
        return  # the Train tab says why; the explorer goes on
    for job_id in list(watched):
        s = statuses.get(job_id)
        if s is None or s.active:
            continue
        watched.discard(job_id)
        if s.state in ("finished", "stopped"):
            switch_model(s.name)
            notify(f"Your model “{s.name}” is ready: the explorer now shows it (only to you).",
                   icon=":material/check_circle:")
