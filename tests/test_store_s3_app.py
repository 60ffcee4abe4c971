"""An object store under the page and the runners, against moto's S3 server: training writes the
version to the store with either runner, and the page lists, opens, loses and misses versions as
a server among several would."""
import os

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from vae.store.s3 import S3Versions

from conftest import REPO_ROOT, TEST_AWS_SECRET, free_port
from helpers import TINY, ended, wait_for

APP = str(REPO_ROOT / "app.py")
ALICE = "alice0000000000000000000"


@pytest.fixture(params=["local", "ray"])
def runner(request, tmp_path, s3_models):
    """A runner whose models are in the store; its job folders stay local (VAE_JOBS_DIR's role)."""
    if request.param == "local":
        from vae.jobs.local import LocalRunner
        made = LocalRunner(models_dir=s3_models, runtime_dir=tmp_path / "jobs", max_jobs=1, cpus=1)
    else:
        from vae.jobs.ray_runner import RayRunner
        made = RayRunner(address=request.getfixturevalue("ray_cluster").address, models_dir=s3_models,
                         runtime_dir=tmp_path / "jobs", cpus=1)
    yield made
    for s in made.jobs():
        if s.active:
            made.stop(s.id, operator=True)
    made.close()


def test_training_writes_the_version_to_the_store_with_either_runner(runner, s3_models, tmp_path):
    job_id = runner.submit(TINY, ALICE)
    final = wait_for(lambda: ended(runner, job_id), 300, "the job to end")
    assert final.state == "finished", final.error
    assert final.model_dir == f"{s3_models}/{final.name}"  # the store, not a trainer's local copy
    assert (tmp_path / "jobs" / job_id / "progress.jsonl").exists()  # progress stays in the job folder
    elsewhere = S3Versions(s3_models, cache_dir=tmp_path / "another-server")  # another server's view
    assert final.name in elsewhere.list() and elsewhere.entry(final.name).damage is None
    version = elsewhere.open(final.name)
    assert elsewhere.downloads == 1 and version.metadata["metrics"] == final.metrics
    assert version.load_model().decode(np.zeros((1, 2), "float32")).shape == (1, 28, 28)
    assert runner.speed("reference").source  # estimates read the store's versions too


def run(at=None, view=None):
    at = at or AppTest.from_file(APP, default_timeout=180)
    if view:
        at.query_params["view"] = view
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_page_opens_a_store_version_from_its_cache_and_falls_back_when_it_is_deleted(s3_page, tmp_path):
    at = run(view="Model")
    picker = at.sidebar.selectbox(key="model_picker")
    tiny = next(label for label in picker.options if label.startswith("tiny"))
    assert "2 epochs" in tiny and "300 imgs" in tiny
    picker.set_value("tiny").run()
    assert not at.exception and at.session_state["active_model"] == "tiny"
    assert any(m.value.startswith("## Model “tiny”") for m in at.markdown)
    assert list((tmp_path / "page-cache" / "versions").glob("*/tiny/model.keras"))  # opened from the cache

    S3Versions(s3_page, cache_dir=tmp_path / "other-server").delete("tiny")  # another server deletes it
    wait_for(lambda: run(at).session_state["active_model"] == "reference", 30, "this page to fall back")
    warnings = [w.value for w in at.sidebar.warning]
    assert any("“tiny” was deleted" in w and "now shows “reference”" in w for w in warnings), warnings
    assert not any(label.startswith("tiny") for label in at.sidebar.selectbox(key="model_picker").options)


def test_the_train_tab_offers_training_into_the_store(s3_page):
    at = run(view="Train")
    at.session_state["browser_identity"] = {"token": "alice-browser-secret-0000"}
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert not at.button(key="train_start").disabled


def test_an_unreachable_store_is_named_on_the_page_which_keeps_working(s3_page, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path / "cold-cache"))  # a server that cached nothing
    at = run()
    wait_for(lambda: run(at).sidebar.warning, 30, "the store's failure on the page")
    warnings = " ".join(w.value for w in at.sidebar.warning)
    assert s3_page in warnings and "cannot be reached" in warnings and TEST_AWS_SECRET not in warnings
    assert at.session_state["active_model"] == "reference" and not at.error  # the explorer goes on
    assert {m.label for m in at.sidebar.metric} >= {"Test −ELBO"}


def test_the_default_path_never_imports_s3fs_but_an_s3_store_does(s3_page, tmp_path):
    """The control of tests/test_app_training.py::test_the_local_runner_never_imports_ray: the same
    check finds s3fs when the store is s3://."""
    import subprocess
    import sys
    code = ("import sys\nfrom streamlit.testing.v1 import AppTest\n"
            "at = AppTest.from_file('app.py', default_timeout=120)\nat.run()\n"
            "assert not at.exception, at.exception\n"
            "print(sorted(m for m in ('s3fs', 'fsspec', 'botocore', 'vae.store.s3') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True,
                         timeout=300, env={**os.environ})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "['botocore', 'fsspec', 's3fs', 'vae.store.s3']"
