"""Does a Ray cluster's Python have what a trainer needs? Asked once, before the first job.

A node started as `.venv/bin/ray start --head`, without the venv's bin first on PATH, runs each
job's `python -m vae.trainer` with the system Python: every job then fails at once with
"No module named 'tensorflow'". A job that only looks the modules up (no import: TensorFlow
takes seconds) says so in about a second, before anybody's training is queued behind it.
"""
import json
import secrets
import time

# What a trainer imports that a bare Python lacks (vae itself comes with the job's code)
REQUIRED_MODULES = ("tensorflow", "keras", "numpy")
PROBE_SECONDS = 30.0  # a cluster too busy to answer by then is not held up: the jobs will tell
MARKER = "VAE-PYTHON "
HOW_TO_FIX = ("start Ray from the project's environment, e.g. `PATH=$PWD/.venv/bin:$PATH ray start --head …` "
              "on the head and the same on every worker (docs/deployment.md, “Running a cluster”), or install "
              "requirements.txt into the Python the nodes use")


def probe_entrypoint(modules=REQUIRED_MODULES):
    """A shell command printing MARKER and {"python": its path, "missing": [module, ...]}."""
    code = ("import importlib.util, json, sys; "
            f"missing = [m for m in {list(modules)!r} if importlib.util.find_spec(m) is None]; "
            f"print({MARKER!r} + json.dumps({{'python': sys.executable, 'missing': missing}}))")
    return f"python -c {json.dumps(code)}"


def read_probe(logs):
    """(python, missing modules) from the probe's logs; None when it printed no answer."""
    for line in reversed(logs.splitlines()):
        if line.startswith(MARKER):
            try:
                answer = json.loads(line[len(MARKER):])
                return answer["python"], list(answer["missing"])
            except (ValueError, KeyError, TypeError):
                return None
    return None


def problem(python, missing):
    """What the page says when the cluster's Python lacks modules; None when nothing is missing."""
    if not missing:
        return None
    return (f"The Ray cluster runs jobs with {python}, which lacks the project's requirements "
            f"(no module {', '.join(missing)}), so every training job would fail at once. To fix it, "
            f"{HOW_TO_FIX}.")


def check(client, modules=REQUIRED_MODULES, timeout=PROBE_SECONDS, poll=0.2):
    """Run the probe as a job on the cluster (no CPUs reserved, no code uploaded) through the
    Jobs API `client`; the problem in words, or None when the modules are there or the cluster
    did not answer in time. The probe's job entry is deleted afterwards."""
    job = client.submit_job(entrypoint=probe_entrypoint(modules), entrypoint_num_cpus=0,
                            submission_id=f"vae-python-check-{secrets.token_hex(3)}",
                            metadata={"vae_app": "vae-explorer-python-check"})
    try:
        deadline = time.monotonic() + timeout
        while not (status := client.get_job_status(job)).is_terminal():
            if time.monotonic() > deadline:
                client.stop_job(job)
                return None
            time.sleep(poll)  # the Jobs API has no wait call
        logs = client.get_job_logs(job)
        answer = read_probe(logs)
        if answer is None and str(status.value) == "FAILED":  # not even `python` ran
            last = ([line.strip() for line in logs.splitlines() if line.strip()] or ["no output"])[-1][:200]
            return f"The Ray cluster could not run `python` for a job ({last}). To fix it, {HOW_TO_FIX}."
    finally:
        try:
            client.delete_job(job)
        except Exception:  # a stopped job may not be deletable yet: it is only a list entry
            pass
    return problem(*answer) if answer else None
