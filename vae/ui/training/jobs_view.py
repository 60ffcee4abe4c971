"""The jobs part of the Train tab: your job first, then everyone's, from one scan of the jobs."""
import streamlit as st

from vae.jobs import RunnerUnavailable
from vae.ui.training.everyone import everyone
from vae.ui.training.watch import WATCHED_KEY, follow_my_jobs
from vae.ui.training.your_job import your_job


class JobsOfThisRun:
    """The jobs as one full run of the page read them: one scan, for every part of the tab.
    The jobs view, a fragment, takes them once; Streamlit reruns a fragment (every second,
    or for its own buttons) with the arguments of the full run that defined it, and those
    reruns must read the jobs afresh, not show these ones for ever."""

    def __init__(self, runner):
        self.runner = runner
        try:
            self.statuses, self.error = runner.jobs(), None
        except RunnerUnavailable as err:
            self.statuses, self.error = [], err  # the jobs view says what is wrong
        self._taken = False

    def take(self):
        """This run's jobs the first time; a new scan every time after (a fragment's own rerun)."""
        if self._taken:
            return self.runner.jobs()
        self._taken = True
        if self.error is not None:
            raise self.error
        return self.statuses


def jobs_view(runner, scan, owner, operator):
    """Your job first, then everyone's; reruns every second while anything is queued or running."""
    try:
        statuses = scan.take()
    except RunnerUnavailable as err:
        st.error(f"The training runner is not available: {err} The explorer keeps working.",
                 icon=":material/cloud_off:")
        return
    mine = [s for s in statuses if owner is not None and s.owner == owner]
    current = next((s for s in mine if s.active), mine[0] if mine else None)
    watched = st.session_state.setdefault(WATCHED_KEY, set())
    if current is not None and current.active:
        watched.add(current.id)
    elif current is not None and current.id in watched:  # it ended while we watched
        follow_my_jobs(statuses)
        st.rerun(scope="app")  # the picker lists the new version, and the page stops polling
    if current is not None:
        with st.container(key="your_job"):
            your_job(runner, current, owner, operator)
    with st.container(key="everyones_jobs"):
        everyone(runner, statuses, owner, operator)
