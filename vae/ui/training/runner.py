"""This server's job runner, one per process and settings (vae.jobs.runner.make_runner)."""
import streamlit as st

from vae import settings
from vae.jobs.runner import make_runner


def _runner_key():
    """What the runner depends on: a change of settings makes a new one."""
    return (settings.job_runner(), str(settings.models_location()), str(settings.jobs_dir()), settings.max_jobs(),
            settings.job_cpus(), settings.ray_address(), settings.ray_code())


@st.cache_resource(on_release=lambda runner: runner.close(), show_spinner=False)
def _cached_runner(key):
    return make_runner()


def job_runner():
    """This server's runner (one per process and settings); raises RunnerUnavailable or SettingError."""
    return _cached_runner(_runner_key())
