"""The runner the settings name (VAE_JOB_RUNNER): local unless told otherwise. Its own module,
so that the package's __init__ never reaches a runner (a runner imports the package)."""
from vae import settings


def make_runner(**options):
    if settings.job_runner() == "ray":
        from vae.jobs.ray_runner import RayRunner  # ray is imported here and only here
        return RayRunner(**options)
    from vae.jobs.local import LocalRunner
    return LocalRunner(**options)
