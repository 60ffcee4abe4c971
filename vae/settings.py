"""Every setting of VAE Explorer, in one place, read when asked (never at import time).

A setting comes from its environment variable, else from the `[vae]` table of
.streamlit/secrets.toml (the project's, then ~/.streamlit/secrets.toml, as Streamlit reads
them), else its default. A value that cannot be used raises SettingError, naming the variable
and what it accepts: a typo in a deployment must be told, not silently replaced.

The settings table in docs/operators.md is checked against SETTINGS (tests/test_settings.py).
Plain Python: no Streamlit, no TensorFlow.
"""
import dataclasses
import os
import re
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

HARD_MAX_EPOCHS = 100  # whatever an operator sets, one job never asks for more
TRAINING_MODES = ("on", "off", "everyone")
JOB_RUNNERS = ("local", "ray")
RAY_CODE = ("upload", "installed")
DEFAULT_CACHE_MB = 1024
OBJECT_STORE_SCHEMES = ("s3://",)
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")  # S3's rules, in short
S3_FORWARDED_ENVIRONMENT = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_DEFAULT_REGION", "AWS_REGION")


class SettingError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class Setting:
    env: str  # environment variable
    secret: str | None  # key under [vae] in secrets.toml; None: environment only
    default: str | None  # as text, the way it would be written in the environment
    help: str  # one line for the documented table


SETTINGS = {
    "models_dir": Setting("VAE_MODELS_DIR", None, "models/ in the repository",
                          "where model versions live: a local folder, or `s3://bucket/prefix` on any "
                          "S3-compatible store (endpoint and credentials from the usual `AWS_*` variables; "
                          "needs requirements-store.txt)"),
    "cache_dir": Setting("VAE_CACHE_DIR", None, "~/.cache/vae-explorer",
                         "s3 store: this server's copies of the versions it opened, by content hash"),
    "cache_mb": Setting("VAE_CACHE_MB", "cache_mb", str(DEFAULT_CACHE_MB),
                        "s3 store: the most MB that cache keeps; the least recently used versions go first"),
    "jobs_dir": Setting("VAE_JOBS_DIR", None, "models dir's .jobs/, or for an s3 store the cache dir's jobs/",
                        "where training jobs keep their state and progress; the ray runner needs it on "
                        "storage every node sees at the same path"),
    "training": Setting("VAE_TRAINING", "training", "on",
                        "`on`: anyone may train, or only the operator when a password is set; "
                        "`everyone`: anyone may train even with a password (a class); `off`: nobody"),
    "max_epochs": Setting("VAE_MAX_EPOCHS", "max_epochs", str(HARD_MAX_EPOCHS),
                          f"the most epochs one job may ask for (at most {HARD_MAX_EPOCHS})"),
    "operator_password": Setting("VAE_OPERATOR_PASSWORD", "operator_password", None,
                                 "unlocks any number of jobs, stopping anyone's, and deleting versions"),
    "job_runner": Setting("VAE_JOB_RUNNER", "job_runner", "local",
                          "`local`: trainer processes on this machine; `ray`: jobs on a Ray cluster"),
    "max_jobs": Setting("VAE_MAX_JOBS", "max_jobs", "1",
                        "local runner: how many jobs train at once; the others wait in order"),
    "ray_address": Setting("RAY_ADDRESS", "ray_address", None,
                           "ray runner: the cluster's dashboard, e.g. http://127.0.0.1:8265"),
    "ray_code": Setting("VAE_RAY_CODE", "ray_code", "upload",
                        "ray runner: `upload`: Ray ships the project to each job (runtime_env working_dir); "
                        "`installed`: it sits at the same path on every node"),
    "job_cpus": Setting("VAE_JOB_CPUS", "job_cpus", None,
                        "CPU threads of one job (and the CPUs Ray reserves for it); "
                        "default: local, the cores shared by VAE_MAX_JOBS; ray, 1"),
}


def _secrets_files():
    return [Path.home() / ".streamlit" / "secrets.toml", Path.cwd() / ".streamlit" / "secrets.toml"]


# path → ((mtime_ns, size), its [vae] table): a page run asks for a dozen settings, and each
# would otherwise parse both files again. A file is read again when its stamp changes; an edit
# that keeps the size within the clock's tick (a few ms) is not seen, which no person makes.
_tables_read = {}


def _stamp(path):
    """(mtime_ns, size) of a file, or None when there is none."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise SettingError(f"{path} cannot be read: {err}") from err
    return stat.st_mtime_ns, stat.st_size


def _read_table(path):
    """The [vae] table of one secrets.toml ({} when it has none)."""
    try:
        table = tomllib.loads(path.read_text()).get("vae", {})
    except FileNotFoundError:  # removed since its stamp was taken
        return {}
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise SettingError(f"{path} cannot be read: {err}") from err
    return table if isinstance(table, dict) else {}


def _secrets():
    """The [vae] table, the project's file over the user's; {} when there is none."""
    merged = {}
    for path in _secrets_files():
        stamp = _stamp(path)
        if stamp is None:
            continue
        known = _tables_read.get(path)
        if known is None or known[0] != stamp:
            known = _tables_read[path] = (stamp, _read_table(path))
        merged.update(known[1])
    return merged


def raw(name):
    """(value, where it came from) of a setting, or (None, None) when it is not set."""
    setting = SETTINGS[name]
    if setting.env in os.environ:
        return os.environ[setting.env], setting.env
    if setting.secret is not None:
        value = _secrets().get(setting.secret)
        if value is not None:
            return value, f"[vae] {setting.secret}"
    return None, None


def _whole_number(name, lo, hi=None):
    value, source = raw(name)
    if value is None or str(value).strip() == "":
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        number = None
    if number is None or number < lo or (hi is not None and number > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise SettingError(f"{source} must be a whole number {bound}, not {value!r}")
    return number


def _choice(name, choices, aliases=None):
    value, source = raw(name)
    if value is None:
        return SETTINGS[name].default
    if isinstance(value, bool):  # `training = false` in TOML
        value = "on" if value else "off"
    text = str(value).strip().lower()
    text = (aliases or {}).get(text, text)
    if text not in choices:
        raise SettingError(f"{source} must be one of {', '.join(choices)}, not {value!r}")
    return text


# -- the settings ---------------------------------------------------------------------

def is_object_store(location):
    """Does `location` (a setting's text, a Path or a URL) name an object store rather than a folder?"""
    return isinstance(location, str) and location.lower().startswith(OBJECT_STORE_SCHEMES)


def models_location():
    """Where model versions live: a Path (a local folder), or an `s3://bucket/prefix` URL (a str,
    without a trailing slash). A URL that cannot be used raises SettingError, saying why."""
    value, source = raw("models_dir")
    if not value:
        return REPO_ROOT / "models"
    text = str(value).strip()
    if "://" not in text:
        return Path(text)
    if not is_object_store(text):
        raise SettingError(f"{source} takes a folder or s3://bucket/prefix, not {text.split('://')[0]}://…")
    bucket, _, prefix = text[len("s3://"):].partition("/")
    if "@" in bucket or ":" in bucket:  # s3://key:secret@bucket would put a secret in logs and on the page
        raise SettingError(f"{source}: put no credentials in the URL; set AWS_ACCESS_KEY_ID and "
                           "AWS_SECRET_ACCESS_KEY (or use a profile or a role) instead")
    if not BUCKET_NAME.fullmatch(bucket):
        raise SettingError(f"{source} must be s3://bucket/prefix with a valid bucket name, not {bucket!r}")
    prefix = prefix.strip("/")
    return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"


def models_dir():
    """The local models folder; SettingError when VAE_MODELS_DIR names an object store."""
    location = models_location()
    if is_object_store(location):
        raise SettingError(f"VAE_MODELS_DIR is an object store ({location}); this needs a local folder")
    return location


def cache_dir():
    value, _ = raw("cache_dir")
    if value:
        return Path(value).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "vae-explorer"


def cache_mb():
    return _whole_number("cache_mb", 10) or DEFAULT_CACHE_MB


def jobs_dir(models=None):
    """Where job folders live: the setting, else beside a local models folder (<models>/.jobs),
    else, for an object store, in this server's cache folder (<cache>/jobs)."""
    value, _ = raw("jobs_dir")
    if value:
        return Path(value).expanduser()
    models = models_location() if models is None else models
    return cache_dir() / "jobs" if is_object_store(models) else Path(models) / ".jobs"


def training_mode():
    """"on", "off" or "everyone" (see SETTINGS["training"])."""
    return _choice("training", TRAINING_MODES,
                   aliases={"true": "on", "1": "on", "yes": "on", "enabled": "on",
                            "false": "off", "0": "off", "no": "off", "disabled": "off"})


def max_epochs():
    """The operator's cap, at most HARD_MAX_EPOCHS."""
    return min(_whole_number("max_epochs", 1) or HARD_MAX_EPOCHS, HARD_MAX_EPOCHS)


def operator_password():
    """The password, or None when none is set. A blank value counts as unset: nobody could type it."""
    value, _ = raw("operator_password")
    if value is None or not str(value).strip():
        return None
    return str(value)


def job_runner():
    return _choice("job_runner", JOB_RUNNERS)


def max_jobs():
    return _whole_number("max_jobs", 1, 64) or 1


def ray_address():
    value, _ = raw("ray_address")
    return str(value).strip() if value else None


def ray_code():
    return _choice("ray_code", RAY_CODE)


def job_cpus():
    """CPU threads per job: the setting, else the machine's cores shared by the local runner's slots
    (local), else 1 (ray: a node's CPUs are Ray's to share)."""
    explicit = _whole_number("job_cpus", 1, 256)
    if explicit:
        return explicit
    if job_runner() == "ray":
        return 1
    return max(1, (os.cpu_count() or 1) // max_jobs())


def s3_endpoint_url():
    """The object store's endpoint as set (AWS_ENDPOINT_URL_S3 over AWS_ENDPOINT_URL), or None
    for AWS itself. botocore reads it, and the credentials, by itself; this is for naming the
    store on the page."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def s3_forwarded_environment():
    """The object store's non-secret settings from this environment, for a trainer on another
    machine (Ray) to reach the same store: never the credentials."""
    return {name: os.environ[name] for name in S3_FORWARDED_ENVIRONMENT if os.environ.get(name)}


def markdown_table():
    """The settings table (between docs/operators.md's settings-table markers), made from SETTINGS."""
    rows = ["| Setting | Environment | `.streamlit/secrets.toml` | Default | What it does |",
            "|---|---|---|---|---|"]
    for setting in SETTINGS.values():
        secret = f"`[vae]` `{setting.secret}`" if setting.secret else "(environment only)"
        default = f"`{setting.default}`" if setting.default and " " not in setting.default else (setting.default or "unset")
        rows.append(f"| {setting.env.lower().removeprefix('vae_').replace('_', ' ')} | `{setting.env}` | "
                    f"{secret} | {default} | {setting.help} |")
    return "\n".join(rows)


def update_readme(path):
    """Replace the table between a page's settings-table markers with markdown_table()."""
    text = Path(path).read_text()
    head, rest = text.split("<!-- settings-table -->\n", 1)
    _, tail = rest.split("\n<!-- /settings-table -->", 1)
    Path(path).write_text(f"{head}<!-- settings-table -->\n{markdown_table()}\n<!-- /settings-table -->{tail}")


if __name__ == "__main__":  # python -m vae.settings [--update docs/operators.md]
    import sys
    if sys.argv[1:2] == ["--update"]:
        update_readme(sys.argv[2])
    else:
        print(markdown_table())
