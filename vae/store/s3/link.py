"""One object store under an s3:// URL, and whether it answers just now.

Every call gives up within a few seconds (short timeouts, one retry). After one fails, the store
is down for DOWN_SECONDS: every call fails at once with StoreUnavailable, whose message (also
`problem`, for the page) names the store and says why; then it is asked again. s3fs is imported
on first use only: a server on a local folder never loads it.
"""
import contextlib
import threading
import time
import urllib.parse

from vae import settings
from vae.error_text import first_line

DOWN_SECONDS = 10.0  # after a failed call, answer from the cache this long before asking again
# botocore: give up on an unreachable store within seconds; s3fs's own retry loop is turned off
# below, so the attempts do not multiply
CLIENT_CONFIG = {"connect_timeout": 2, "read_timeout": 4, "retries": {"max_attempts": 2, "mode": "standard"}}


class StoreUnavailable(OSError):
    """The object store cannot be reached or refused us; the message names it and says why."""


def s3_filesystem():
    """An s3fs file system with short timeouts and no listing cache of its own (ours expires)."""
    import s3fs
    fs = s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False, config_kwargs=CLIENT_CONFIG)
    fs.retries = 1
    return fs


def endpoint():
    """The store's endpoint as scheme://host:port (no user or password), or None for AWS itself."""
    url = settings.s3_endpoint_url()
    if not url:
        return None
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"


def store_errors():
    """What a failed store call raises (botocore is imported with s3fs, on first use)."""
    from botocore.exceptions import BotoCoreError, ClientError
    return (OSError, BotoCoreError, ClientError, TimeoutError)


class StoreLink:
    """The store's file system and paths, and its state: `problem` says why it failed last (None
    while it answers); `down_at` is when (time.monotonic()), so a listing older than that is
    known to be stale."""

    def __init__(self, url, fs=None):
        self.url = url.rstrip("/")
        self.root = self.url[len("s3://"):]  # bucket/prefix: fsspec's paths
        self.fs = fs if fs is not None else s3_filesystem()
        self.problem = None
        self.down_at = float("-inf")
        self._down_until = 0.0
        self._lock = threading.Lock()

    def describe(self):
        where = endpoint()
        return f"{self.url}" + (f" at {where}" if where else "")

    def path(self, name, file):
        """The object of one version's file."""
        return f"{self.root}/{name}/{file}"

    @property
    def down(self):
        return time.monotonic() < self._down_until

    def went_down(self, err):
        """Record a failure: calls fail at once for DOWN_SECONDS. Returns `problem`."""
        with self._lock:
            self.down_at = time.monotonic()
            self._down_until = self.down_at + DOWN_SECONDS
            self.problem = (f"The model store {self.describe()} cannot be reached ({first_line(err)}). "
                            f"Showing the versions this server has cached; it asks the store again every "
                            f"{DOWN_SECONDS:.0f} s.")
            return self.problem

    def answered(self):
        self.problem = None

    @contextlib.contextmanager
    def asking(self):
        """Around calls to the store: they fail at once while it is down, and one that fails marks
        it down. (A context, not a wrapper taking a function: a download is a vae.store.cache call,
        which this module must not call back into.)"""
        if self.down:
            raise StoreUnavailable(self.problem)
        try:
            yield
        except FileNotFoundError:
            raise
        except store_errors() as err:
            raise StoreUnavailable(self.went_down(err)) from err

    def call(self, fn, *args, **kwargs):
        """fn(*args, **kwargs), one of the file system's calls, asked as asking() says."""
        with self.asking():
            return fn(*args, **kwargs)

    def objects(self):
        """{version name: {file name: object info}} of everything under the prefix (not through
        call(): the listing marks the store down itself)."""
        groups = {}
        for path, info in self.fs.find(self.root, detail=True).items():
            name, _, file = path[len(self.root) + 1:].partition("/")
            if file:
                groups.setdefault(name, {})[file] = info
        return groups
