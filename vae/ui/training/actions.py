"""What a button asks of the runner (start a job, stop one), and what the page says when the
runner refuses."""
import streamlit as st

from vae.jobs import NotWritableError, OwnerBusy, RunnerUnavailable
from vae.ui.training.watch import WATCHED_KEY


def submit(runner, config, owner, operator):
    try:
        job_id = runner.submit(config, owner, operator=operator)
    except OwnerBusy as err:
        st.warning(f"One job at a time: {err}.", icon=":material/hourglass_top:")
    except NotWritableError as err:
        st.error(f"Training is not possible on this server: {err}, so a trained model could not "
                 "be saved. The operator can make it writable, or switch training off "
                 "(VAE_TRAINING=off).", icon=":material/block:")
    except RunnerUnavailable as err:
        st.error(f"Could not queue the job: {err}", icon=":material/cloud_off:")
    except (ValueError, OSError) as err:  # FileExistsError, a bad option, a spawn failing
        st.error(f"Could not start: {err}")
    else:
        st.session_state.setdefault(WATCHED_KEY, set()).add(job_id)
        st.rerun()


def stop(runner, job_id, keep, owner, operator):
    try:
        runner.stop(job_id, keep=keep, owner=owner, operator=operator)
    except PermissionError as err:
        st.error(str(err), icon=":material/lock:")
    except RunnerUnavailable as err:
        st.error(f"Could not stop the job: {err}", icon=":material/cloud_off:")
