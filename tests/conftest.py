"""Shared test setup. Keep it small: other suites add their fixtures here."""
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before anything imports TensorFlow

# The object store tests talk to moto's S3 server on 127.0.0.1, never to a real account: fixed
# fake credentials for every test and every process they start (servers, trainers, Ray), set
# before anything reads them. The secret is distinctive, so tests can look for it where it must
# never appear (the page, the logs).
TEST_AWS_SECRET = "vae-test-secret-3b9f1c7e5a"
for _variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL",
                  "AWS_ENDPOINT_URL_S3"):
    os.environ.pop(_variable, None)
os.environ.update(AWS_ACCESS_KEY_ID="vae-test-key", AWS_SECRET_ACCESS_KEY=TEST_AWS_SECRET,
                  AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull,
                  AWS_SHARED_CREDENTIALS_FILE=os.devnull)

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # `pytest` as well as `python -m pytest`
    sys.path.insert(0, str(REPO_ROOT))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """One small model (300 images, 2 epochs) made by the real training CLI, shared by all tests."""
    from vae.train import main
    out = tmp_path_factory.mktemp("tiny-model") / "tiny"
    assert main(["--limit", "300", "--epochs", "2", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture
def models_dir(tmp_path, monkeypatch, tiny_model_dir):
    """models/ with the shipped reference and one tiny extra version, no operator settings,
    and a fresh job manager."""
    import shutil

    from vae.settings import SETTINGS
    from vae.ui import training

    root = tmp_path / "models"
    root.mkdir()
    shutil.copytree(REPO_ROOT / "models" / "reference", root / "reference")
    shutil.copytree(tiny_model_dir, root / "tiny")
    monkeypatch.setenv("VAE_MODELS_DIR", str(root))
    for setting in SETTINGS.values():
        if setting.env != "VAE_MODELS_DIR":
            monkeypatch.delenv(setting.env, raising=False)
    training._cached_runner.clear()
    yield root
    training._cached_runner.clear()


# The test layers (pytest.ini): a test is marked by the real parts its fixtures start, and every
# one of those is slow, so `-m "not slow"` is the unit layer, which runs in about a minute.
MARKS_BY_FIXTURE = {
    "page": ("browser",), "browser": ("browser",), "server": ("browser",),
    "ray_cluster": ("ray", "trainer"),
    "s3_server": ("s3",), "s3_models": ("s3",),
    "tiny_model_dir": ("trainer",), "models_dir": ("trainer",), "toy_models": ("trainer",),
}
SLOW_MARKS = ("browser", "trainer", "ray", "s3")


def pytest_collection_modifyitems(config, items):
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            for mark in MARKS_BY_FIXTURE.get(fixture, ()):
                item.add_marker(mark)
        if any(item.get_closest_marker(mark) for mark in SLOW_MARKS):
            item.add_marker("slow")


# With VAE_REQUIRE_BROWSER=1 (CI), a browser test that is skipped, or no browser
# test at all, fails the run: green must mean the app worked in a real browser.
_browser_outcomes = []


def pytest_runtest_logreport(report):
    if "browser" in report.keywords and (report.when == "call" or report.outcome == "skipped"):
        _browser_outcomes.append(report.outcome)


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("VAE_REQUIRE_BROWSER") != "1" or session.config.option.collectonly:
        return
    if "skipped" in _browser_outcomes or not _browser_outcomes:
        reason = "were skipped" if _browser_outcomes else "did not run"
        print(f"\nVAE_REQUIRE_BROWSER=1: browser tests {reason}; failing the run.")
        session.exitstatus = 1


from harness.ray_cluster import RayCluster, free_port  # noqa: E402  (free_port: for tests that need a closed port)


@pytest.fixture(scope="session")
def ray_cluster():
    """A real Ray cluster for the tests, waited for until its Jobs API answers, and stopped at
    the end whatever happened (harness/ray_cluster.py: its own processes only). Yields a RayCluster."""
    cluster = RayCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 protocol server (ThreadedMotoServer) on 127.0.0.1, stopped at the end whatever
    happened. Yields its endpoint URL. No client is mocked: everything talks HTTP to it."""
    import logging

    from moto.server import ThreadedMotoServer
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def new_bucket(endpoint):
    """A fresh bucket on the S3 server at `endpoint`; returns its name."""
    import uuid

    import boto3
    bucket = f"vae-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def s3_models(s3_server, monkeypatch):
    """s3://<a fresh bucket>/models on the moto server, AWS_ENDPOINT_URL pointing at it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    return f"s3://{new_bucket(s3_server)}/models"


@pytest.fixture
def s3_page(s3_models, tmp_path, monkeypatch, tiny_model_dir):
    """The page's settings over the store (with one trained version, "tiny"), its cache in tmp_path."""
    from vae.settings import SETTINGS
    from vae.store.s3 import S3Versions
    from vae.store.versions import Versions
    from vae.ui import training
    for setting in SETTINGS.values():
        monkeypatch.delenv(setting.env, raising=False)
    monkeypatch.setenv("VAE_MODELS_DIR", s3_models)
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path / "page-cache"))
    tiny = Versions(tiny_model_dir.parent).open(tiny_model_dir.name)
    S3Versions(s3_models, cache_dir=tmp_path / "trainer-cache").write(
        "tiny", tiny.load_model(), {**tiny.metadata, "name": "tiny"}, tiny.test_set()["x_test"])
    training._cached_runner.clear()
    yield s3_models
    training._cached_runner.clear()
