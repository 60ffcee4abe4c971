"""Shared test setup. Keep it small: other suites add their fixtures here."""
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before anything imports TensorFlow

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


from ray_cluster import RayCluster  # noqa: E402


@pytest.fixture(scope="session")
def ray_cluster():
    """A real Ray cluster for the tests, waited for until its Jobs API answers, and stopped at
    the end whatever happened. Yields a RayCluster."""
    cluster = RayCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
