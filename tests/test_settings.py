"""vae.settings: where each setting comes from, what a bad value gets, and the table in docs/operators.md."""
import os

import pytest

from vae import settings
from vae.settings import SETTINGS, SettingError

from conftest import REPO_ROOT


@pytest.fixture
def clean(monkeypatch, tmp_path):
    """No setting in the environment, and secrets.toml files only where the test writes them."""
    for setting in SETTINGS.values():
        monkeypatch.delenv(setting.env, raising=False)
    home, project = tmp_path / "home", tmp_path / "project"
    monkeypatch.setattr(settings, "_secrets_files",
                        lambda: [home / ".streamlit" / "secrets.toml", project / ".streamlit" / "secrets.toml"])

    def write(where, text):
        path = (home if where == "home" else project) / ".streamlit" / "secrets.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return write


def test_defaults(clean):
    assert settings.models_dir() == REPO_ROOT / "models"
    assert settings.training_mode() == "on"
    assert settings.max_epochs() == settings.HARD_MAX_EPOCHS
    assert settings.operator_password() is None
    assert settings.job_runner() == "local" and settings.max_jobs() == 1 and settings.ray_address() is None


def test_the_environment_wins_over_secrets_and_the_project_over_home(clean, monkeypatch):
    clean("home", '[vae]\nmax_epochs = 7\ntraining = "everyone"\n')
    assert settings.max_epochs() == 7 and settings.training_mode() == "everyone"
    clean("project", "[vae]\nmax_epochs = 9\n")
    assert settings.max_epochs() == 9 and settings.training_mode() == "everyone"
    monkeypatch.setenv("VAE_MAX_EPOCHS", "11")
    assert settings.max_epochs() == 11


@pytest.mark.parametrize("secret, expected", [("training = false", "off"), ("training = true", "on"),
                                              ('training = "Everyone"', "everyone")])
def test_training_mode_from_toml(clean, secret, expected):
    clean("project", f"[vae]\n{secret}\n")
    assert settings.training_mode() == expected


@pytest.mark.parametrize("env, value, call, words", [
    ("VAE_MAX_JOBS", "two", settings.max_jobs, "VAE_MAX_JOBS must be a whole number"),
    ("VAE_MAX_JOBS", "0", settings.max_jobs, "between 1 and 64"),
    ("VAE_MAX_EPOCHS", "-3", settings.max_epochs, "at least 1"),
    ("VAE_TRAINING", "sometimes", settings.training_mode, "one of on, off, everyone"),
    ("VAE_JOB_RUNNER", "slurm", settings.job_runner, "one of local, ray"),
])
def test_a_bad_value_is_named_not_replaced(clean, monkeypatch, env, value, call, words):
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingError, match=words) as err:
        call()
    assert repr(value) in str(err.value)


def test_an_epoch_cap_above_the_hard_limit_is_the_hard_limit(clean, monkeypatch):
    monkeypatch.setenv("VAE_MAX_EPOCHS", "5000")
    assert settings.max_epochs() == settings.HARD_MAX_EPOCHS


@pytest.mark.parametrize("environ, secret, expected", [
    ("env-pw", None, "env-pw"), (None, '"toml-pw"', "toml-pw"), ("env-pw", '"toml-pw"', "env-pw"),
    ("   ", None, None),  # blank: nobody could type it
    (None, "1234", "1234"),  # a bare number in secrets.toml
])
def test_the_password_comes_from_the_environment_then_secrets(clean, monkeypatch, environ, secret, expected):
    if environ is not None:
        monkeypatch.setenv("VAE_OPERATOR_PASSWORD", environ)
    if secret is not None:
        clean("project", f"[vae]\noperator_password = {secret}\n")
    assert settings.operator_password() == expected


def test_a_broken_secrets_file_is_reported(clean):
    clean("project", "[vae\nmax_epochs = 3\n")
    with pytest.raises(SettingError, match="cannot be read"):
        settings.max_epochs()


def test_the_secrets_files_are_read_once_until_they_change(clean, monkeypatch):
    """A page run asks for many settings (the Train tab's runner key alone, seven): each file is
    parsed once, not once a setting."""
    clean("home", "[vae]\nmax_jobs = 2\n")
    clean("project", '[vae]\ntraining = "everyone"\n')
    reads = []
    real_read = settings._read_table
    monkeypatch.setattr(settings, "_read_table", lambda path: reads.append(path) or real_read(path))
    for _ in range(5):
        assert settings.max_jobs() == 2 and settings.training_mode() == "everyone"
        settings.raw("job_runner"), settings.raw("ray_address"), settings.raw("job_cpus")
    assert len(reads) == 2 and len(set(reads)) == 2


def test_a_changed_secrets_file_is_seen(clean):
    clean("project", "[vae]\nmax_epochs = 7\n")
    assert settings.max_epochs() == 7
    clean("project", "[vae]\nmax_epochs = 12\n")  # another size
    assert settings.max_epochs() == 12
    path = settings._secrets_files()[1]
    stamp = path.stat().st_mtime_ns
    path.write_text("[vae]\nmax_epochs = 13\n")  # the same size: its time tells
    os.utime(path, ns=(stamp + 1_000_000, stamp + 1_000_000))
    assert settings.max_epochs() == 13
    path.unlink()
    assert settings.max_epochs() == settings.HARD_MAX_EPOCHS


def test_job_cpus_share_the_cores_between_local_slots(clean, monkeypatch):
    monkeypatch.setattr(settings.os, "cpu_count", lambda: 8)
    monkeypatch.setenv("VAE_MAX_JOBS", "2")
    assert settings.job_cpus() == 4
    monkeypatch.setenv("VAE_JOB_RUNNER", "ray")
    assert settings.job_cpus() == 1
    monkeypatch.setenv("VAE_JOB_CPUS", "3")
    assert settings.job_cpus() == 3


def test_the_documented_table_is_the_settings_table():
    page = (REPO_ROOT / "docs" / "operators.md").read_text()
    table = page.split("<!-- settings-table -->\n", 1)[1].split("\n<!-- /settings-table -->", 1)[0]
    assert table == settings.markdown_table(), "run `python -m vae.settings --update docs/operators.md`"


def test_no_module_reads_a_vae_variable_but_settings():
    offenders = []
    for path in (REPO_ROOT / "vae").rglob("*.py"):
        if path.name == "settings.py":
            continue
        text = path.read_text()
        for setting in SETTINGS.values():
            if f'"{setting.env}"' in text or f"'{setting.env}'" in text:
                offenders.append(f"{path.relative_to(REPO_ROOT)}: {setting.env}")
        if '"AWS_' in text or "'AWS_" in text:  # the object store's variables too
            offenders.append(f"{path.relative_to(REPO_ROOT)}: AWS_*")
    assert offenders == []
