"""Train your own version in the browser: choose the recipe, wait your turn, watch it learn.

Every person (browser) may have one job queued or running; the operator any number. Jobs
run on the runner the settings name (vae.jobs: trainer processes here, or a Ray cluster);
this page submits them, reads where they stand, and asks to stop them. Your own job comes
first, then everyone's; a reload or a second tab finds your job again by this browser's
cookie (vae/ui/browser_identity), never by the link.

One job a module: runner.py (this server's runner), roles.py (who may train), form.py (a new
job's options), actions.py (start, stop), watch.py (a finished job becomes your model),
your_job.py and everyone.py (the two job views), jobs_view.py (both, from one scan),
wording.py (a job in words). This module is the tab.
"""
import streamlit as st

from vae import settings
from vae.jobs import RunnerUnavailable
from vae.settings import HARD_MAX_EPOCHS, SettingError
from vae.ui.browser_identity import browser_owner
from vae.ui.operator_lock import LOCKED_MESSAGE, unlock_form
from vae.ui.state import tab_fragment
from vae.ui.training.actions import submit
from vae.ui.training.form import settings_form
from vae.ui.training.jobs_view import JobsOfThisRun, jobs_view
from vae.ui.training.roles import roles
from vae.ui.training.runner import _cached_runner, job_runner  # noqa: F401  (tests clear the runner's cache)
from vae.ui.training.watch import follow_my_jobs  # noqa: F401  (app.py, on every run)


def render(explorer):
    try:
        mode, max_epochs = settings.training_mode(), settings.max_epochs()
        runner = job_runner() if mode != "off" else None
    except SettingError as err:
        st.error(f"Training is not available: a setting is wrong. {err}", icon=":material/settings:")
        return
    except RunnerUnavailable as err:
        st.error(f"Training is not available: {err} The explorer keeps working.", icon=":material/cloud_off:")
        return
    if mode == "off":
        st.info("Training is switched off on this server by its operator "
                "(VAE_TRAINING=off or `[vae] training = false` in .streamlit/secrets.toml). "
                "Everything else works; train locally with `python -m vae.train`.", icon=":material/lock:")
        return
    owner = browser_owner()
    operator, may_start = roles(mode)
    st.markdown(f"Train your own version of the model and watch it learn. Jobs run {runner.describe()}. "
                "Each person may have one job queued or running; the explorer stays usable meanwhile.")
    if max_epochs < HARD_MAX_EPOCHS:
        st.caption(f"The operator caps training at {max_epochs} epochs.")
    unlock_form("train", "training, stopping anyone's job and deleting")
    scan = JobsOfThisRun(runner)  # the one scan of this run: each reads every job's files
    busy = any(s.owner == owner and s.active for s in scan.statuses) and not operator
    anything_active = any(s.active for s in scan.statuses)
    with st.container(key="jobs_view"):
        tab_fragment("Train", run_every=1.0 if anything_active else None)(jobs_view)(runner, scan, owner, operator)
    st.markdown("## A new job")
    with st.container(key="new_job"):
        config = settings_form(runner, scan.statuses, max_epochs, explorer)
    reason = (LOCKED_MESSAGE if not may_start else
              "You have a job queued or running: one at a time." if busy else
              "Identifying this browser…" if owner is None else None)
    if reason and may_start:
        st.caption(reason)
    if st.button("Start training", type="primary", icon=":material/play_arrow:", key="train_start",
                 disabled=config is None or reason is not None):
        _, may_start = roles(mode)  # checked again: a disabled button can still be clicked by a crafted client
        if not may_start:
            st.error(LOCKED_MESSAGE, icon=":material/lock:")
        elif owner is None:
            st.warning("This browser is not identified yet: try again in a moment.")
        else:
            submit(runner, config, owner, operator)
