"""Model versions in an object store, `s3://bucket/prefix` on any S3-compatible service, through
fsspec and s3fs: the four verbs of vae.store.versions (list, open, write, delete) on objects.

  s3://bucket/prefix/<name>/model.keras, decoder.json, encoder.json,    written first
                                  test_codes.npz
                           /metadata.json                               the manifest, written last

The manifest is the version's metadata.json plus a "files" table: the SHA-256 and size of each
other file. An object store has no rename, so the manifest's arrival is what makes a version
exist: readers list only names with a manifest, and an upload cut off before it leaves objects
nobody lists (orphans), which `cleanup` removes once they are a day old. A manifest that cannot
be read, or that names a missing or wrongly sized file, is listed as damaged; a file whose hash
differs is found at the download and the version is then listed as damaged too.

A server opens versions from its local cache (vae.store.cache), keyed by the SHA-256 of the
manifest: downloaded once, checked against the manifest's hashes, loaded with Keras' safe_mode.
Listings are kept LISTING_SECONDS, so a version written or deleted by another server shows within
a few seconds. When the store cannot be reached, every call gives up within a few seconds
(timeouts, one retry), `problem` says which store failed and why, and the listing falls back to
the versions this server has cached; the store is asked again after DOWN_SECONDS.

The shipped models are not in the store: they come with the code, from the repository's models/
folder, on every server (so a new, empty or unreachable store still has the default model).

Endpoint and credentials come from botocore's usual sources (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a role); none is ever put in a message. s3fs is imported on
first use only.
"""
import concurrent.futures
import dataclasses
import functools
import hashlib
import json
import re
import shutil
import threading
import time
import urllib.parse
import uuid

from vae import settings
from vae.store.disk import METADATA_FILE, MODEL_FILE, SHIPPED_MODELS, DEFAULT_MODEL, ModelExistsError, NotWritableError
from vae.store.cache import FileMismatch, Remote, VersionCache
from vae.store.disk import DamagedVersionError, sha256_file
from vae.store.versions import Entry, Versions

LISTING_SECONDS = 2.0  # how stale a listing may be: another server's new version shows within this
LISTING_WAIT_SECONDS = 1.0  # the longest a page waits for a listing; then it shows the last one
FIRST_LISTING_WAIT_SECONDS = 5.0  # a new listing (a new server, a name not listed yet) is waited for longer
DOWN_SECONDS = 10.0  # after a failed call, answer from the cache this long before asking again
ORPHAN_SECONDS = 24 * 3600  # objects of no version, older than this, are removed by cleanup
CLEANUP_EVERY = 3600.0  # a server runs cleanup at most this often
# botocore: give up on an unreachable store within seconds; s3fs's own retry loop is turned off
# below, so the attempts do not multiply
CLIENT_CONFIG = {"connect_timeout": 2, "read_timeout": 4, "retries": {"max_attempts": 2, "mode": "standard"}}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # a version's or a file's name: never a path
SHA256 = re.compile(r"[0-9a-f]{64}")
MB = 1024 * 1024


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


def _store_errors():
    from botocore.exceptions import BotoCoreError, ClientError
    return (OSError, BotoCoreError, ClientError, TimeoutError)


def _first_line(err):
    text = (str(err).strip().splitlines() or [""])[0][:200]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def read_manifest(raw):
    """(metadata, files table, damage): the manifest's content, and why it is unusable (or None)."""
    try:
        metadata = json.loads(raw)
    except ValueError:
        return None, None, f"unreadable {METADATA_FILE}"
    if not isinstance(metadata, dict):
        return None, None, f"unreadable {METADATA_FILE}"
    files = metadata.get("files")
    if not isinstance(files, dict) or MODEL_FILE not in files:
        return metadata, None, f"{METADATA_FILE} lists no {MODEL_FILE}"
    for file, want in files.items():
        if (not NAME.fullmatch(file) or file == METADATA_FILE or not isinstance(want, dict)
                or not SHA256.fullmatch(str(want.get("sha256"))) or not isinstance(want.get("size"), int)):
            return metadata, None, f"{METADATA_FILE} has a bad entry for {file!r}"
    return metadata, files, None


class S3Versions:
    """The model versions under one s3:// URL, with this server's cache of them."""

    def __init__(self, url, cache_dir=None, cache_mb=None, shipped_root=None, fs=None):
        self.url = url.rstrip("/")
        self.root = self.url[len("s3://"):]  # bucket/prefix: fsspec's paths
        self.fs = fs if fs is not None else s3_filesystem()
        self.cache = VersionCache(cache_dir or settings.cache_dir(), (cache_mb or settings.cache_mb()) * MB)
        self.shipped = Versions(shipped_root or settings.REPO_ROOT / "models")
        self.problem = None  # why the store could not be read just now, for the page; None when fine
        self._lock = threading.Lock()  # one listing at a time; the others wait for it
        self._listing = None  # (monotonic time, {name: (Entry, sort time)}) of the store's versions
        self._raw = {}  # name → its manifest's bytes, as last listed
        self._manifests = {}  # manifest path → (ETag, bytes): a listing fetches only new manifests
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="vae-store")
        self._refreshing = None  # the listing under way, shared by every caller
        self._generation = 0  # counts refresh() calls: a listing begun before one is not kept
        self._waited_for = None  # the listing a caller waited FIRST_LISTING_WAIT_SECONDS for
        self._bad = {}  # (name, revision) → damage found when its files were downloaded
        self._down_until = 0.0
        self._last_cleanup = time.monotonic() - CLEANUP_EVERY + 60  # the first a minute after start

    @property
    def downloads(self):
        """Versions this instance fetched from the store, a Version's refetch included."""
        return self.cache.downloads

    @property
    def location(self):
        return self.url

    def describe(self):
        where = endpoint()
        return f"{self.url}" + (f" at {where}" if where else "")

    # -- listing ----------------------------------------------------------------------

    def list(self):
        return [e.name for e in self.entries()]

    def entries(self):
        """Shipped models and the store's versions, damaged ones included: the default first, then newest first."""
        timed = list(self._shipped_entries().values()) + list(self._store_entries().values())
        timed.sort(key=lambda pair: (pair[0].name != DEFAULT_MODEL, -pair[1]))
        return [e for e, _ in timed]

    def entry(self, name):
        found = (self._shipped_entries() if name in SHIPPED_MODELS else self._store_entries()).get(name)
        return found[0] if found else None

    @functools.cache
    def _shipped_entries(self):
        """{name: (Entry, sort time)} of the shipped models: read once, they come with the code."""
        return {e.name: (e, _mtime(self.shipped.root / e.name)) for e in self.shipped.entries()
                if e.name in SHIPPED_MODELS}

    def refresh(self):
        """Forget the listing: the next call lists the store again (waiting for it, a little)."""
        with self._lock:
            self._listing = None
            self._refreshing = None  # one under way may predate what the caller knows of
            self._generation += 1

    def _store_entries(self, wait=LISTING_WAIT_SECONDS):
        """{name: (Entry, sort time)} of the store's versions, at most LISTING_SECONDS old when the
        store answers. A refresh runs in one background call shared by every session; a page waits
        for it at most `wait` seconds, then goes on with the last listing (or the cache's). With no
        listing at all (the first, or after refresh()) the first caller waits for it up to
        FIRST_LISTING_WAIT_SECONDS, unless the store is already known to be down."""
        with self._lock:
            now = time.monotonic()
            if self._listing is not None and now - self._listing[0] < LISTING_SECONDS:
                return self._listing[1]
            if self._refreshing is None and now >= self._down_until:
                self._refreshing = self._pool.submit(self._refresh)
            refreshing = self._refreshing
            if self._listing is None and self.problem is None and self._waited_for is not refreshing:
                wait = max(wait, FIRST_LISTING_WAIT_SECONDS)
                self._waited_for = refreshing  # once per listing: later callers do not queue up behind it
        if refreshing is not None:
            try:
                return refreshing.result(timeout=wait)
            except concurrent.futures.TimeoutError:
                pass
            except _store_errors():
                pass  # _refresh said why, in self.problem
        with self._lock:
            return self._listing[1] if self._listing is not None else self._cached_entries()

    def _refresh(self):
        generation = self._generation
        try:
            entries = self._list_store()
        except _store_errors() as err:
            with self._lock:
                self._went_down(err)
                if generation == self._generation:
                    self._refreshing = None
            raise
        with self._lock:
            self.problem = None
            if generation == self._generation:  # not begun before a refresh() asked for a newer one
                self._listing = (time.monotonic(), entries)
                self._refreshing = None
        if time.monotonic() - self._last_cleanup > CLEANUP_EVERY:
            self._last_cleanup = time.monotonic()
            self._pool.submit(self._cleanup_quietly)
        return entries

    def _objects(self):
        """{version name: {file name: object info}} of everything under the prefix."""
        groups = {}
        for path, info in self.fs.find(self.root, detail=True).items():
            name, _, file = path[len(self.root) + 1:].partition("/")
            if file:
                groups.setdefault(name, {})[file] = info
        return groups

    def _list_store(self):
        """Every version under the prefix, from one listing and the manifests not seen before."""
        groups = self._objects()
        paths = {name: f"{self.root}/{name}/{METADATA_FILE}" for name, files in groups.items()
                 if METADATA_FILE in files and NAME.fullmatch(name) and name not in SHIPPED_MODELS}
        stale = [path for name, path in paths.items()
                 if self._manifests.get(path, (None,))[0] != groups[name][METADATA_FILE].get("ETag")]
        if stale:  # fetched together: fsspec runs the requests at once
            for path, raw in self.fs.cat(stale, on_error="omit").items():
                name = path[len(self.root) + 1:].split("/")[0]
                self._manifests[path] = (groups[name][METADATA_FILE].get("ETag"), raw)
        entries = {}
        for name, path in paths.items():
            if path not in self._manifests:
                continue  # deleted between the listing and the read
            raw = self._manifests[path][1]
            metadata, files, damage = read_manifest(raw)
            revision = hashlib.sha256(raw).hexdigest()
            for file, want in (files or {}).items():
                got = groups[name].get(file)
                if got is None:
                    damage = f"no {file}"
                elif got.get("size") != want["size"]:
                    damage = f"{file} is {got.get('size'):,} bytes where its manifest says {want['size']:,}"
                if damage:
                    break
            damage = damage or self._bad.get((name, revision))
            modified = groups[name][METADATA_FILE].get("LastModified")
            entries[name] = (Entry(name=name, damage=damage, metadata=metadata, revision=revision),
                             modified.timestamp() if hasattr(modified, "timestamp") else 0.0)
            self._raw[name] = raw
        self._manifests = {path: seen for path, seen in self._manifests.items() if path in paths.values()}
        self._raw = {name: raw for name, raw in self._raw.items() if name in entries}
        return entries

    def _cached_entries(self):
        """What this server can open without the store: the versions in its cache."""
        return {name: (Entry(name=name, damage=None, metadata=metadata, revision=key), _mtime(directory))
                for name, (key, directory, metadata) in self.cache.newest_by_name().items()
                if name not in SHIPPED_MODELS}

    def _went_down(self, err):
        self._down_until = time.monotonic() + DOWN_SECONDS
        self._listing = None  # from now on, what the cache holds
        self.problem = (f"The model store {self.describe()} cannot be reached ({_first_line(err)}). "
                        f"Showing the versions this server has cached; it asks the store again every "
                        f"{DOWN_SECONDS:.0f} s.")
        return self.problem

    def _call(self, fn, *args, **kwargs):
        """A call to the store that fails at once while it is down, and marks it down when it fails."""
        if time.monotonic() < self._down_until:
            raise StoreUnavailable(self.problem)
        try:
            return fn(*args, **kwargs)
        except FileNotFoundError:
            raise
        except _store_errors() as err:
            with self._lock:
                problem = self._went_down(err)
            raise StoreUnavailable(problem) from err

    # -- open ---------------------------------------------------------------------------

    def open(self, name):
        """The version `name`, from this server's cache; downloaded first when it is not there.
        Found through the listing (asked again when the name is not in it), so a cached version
        opens without the store, and a store that does not answer costs no wait here."""
        name = str(name)
        if name in SHIPPED_MODELS:
            return self.shipped.open(name)
        found = self._store_entries().get(name) if NAME.fullmatch(name) else None
        if found is None and NAME.fullmatch(name):  # made a moment ago, perhaps, by another server
            self.refresh()
            found = self._store_entries().get(name)
        if found is None:
            if self.problem:
                raise StoreUnavailable(self.problem)
            raise FileNotFoundError(f"No model version {name!r} in {self.url}")
        entry = found[0]
        if entry.damage:
            raise DamagedVersionError(f"the model version {name!r} is damaged: {entry.damage}")
        raw = self._raw.get(name)  # None when the listing came from the cache (the store is down)
        files = read_manifest(raw)[1] if raw is not None else None
        if self.cache.get(entry.revision, name) is None:
            if raw is None:  # evicted meanwhile, and the store cannot be asked
                raise StoreUnavailable(self.problem or f"the model version {name!r} is not cached here")
            self._download(name, entry.revision, raw, files)
        return self._open_cached(entry.revision, name, raw, files)

    def _open_cached(self, key, name, raw=None, files=None):
        directory = self.cache.get(key, name) or self.cache.path(key, name)
        version = Versions(directory.parent).open(name)  # the local checks: damage, metadata, dataset
        if raw is None:
            return version
        return dataclasses.replace(version, refetch=self._remote(name, key, raw, files))

    def _remote(self, name, key, raw, files):
        return Remote(cache=self.cache, key=key, name=name, manifest=raw, files=files,
                      prefix=f"{self.root}/{name}", fs=self.fs)

    def _download(self, name, key, raw, files):
        try:
            return self._call(self._remote(name, key, raw, files))  # a store that fails is marked down
        except FileMismatch as err:
            self._bad[(name, key)] = str(err).split(": ", 1)[-1]  # listed as damaged from now on
            raise

    # -- write, delete ----------------------------------------------------------------------

    def exists(self, name):
        """Has `name` a manifest in the store now (asked, not from the listing)?"""
        return self._call(self.fs.exists, self._path(name, METADATA_FILE))

    def check_writable(self):
        """Raise NotWritableError, saying why, when this server cannot write to the store."""
        probe = f"{self.root}/.probe/{uuid.uuid4().hex}"  # left behind by a crash: an orphan
        try:
            self._call(self.fs.pipe_file, probe, b"")
            self._call(self.fs.rm_file, probe)
        except (StoreUnavailable, OSError) as err:
            raise NotWritableError(f"the model store {self.describe()} is not writable ({_first_line(err)})") from err

    def write(self, name, model, metadata, x_test):
        """Save a trained model as the new version `name`: made locally (model, browser files), its
        files uploaded, then its manifest. It also enters this server's cache."""
        name = str(name)
        if name in SHIPPED_MODELS or not NAME.fullmatch(name):
            raise ValueError(f"{name!r} cannot name a version in the store")
        if self.exists(name):
            raise ModelExistsError(f"{self.url}/{name} already exists; choose another name")
        staged = self.cache.staging()
        try:
            local = Versions(staged).write(name, model, metadata, x_test).path
            files = {f.name: {"sha256": sha256_file(f), "size": f.stat().st_size}
                     for f in sorted(local.iterdir()) if f.is_file() and f.name != METADATA_FILE}
            raw = (json.dumps({**metadata, "files": files}, indent=2, sort_keys=True) + "\n").encode()
            (local / METADATA_FILE).write_bytes(raw)
            for file in files:  # the files first ...
                self._put(name, file, local / file)
            self._call(self.fs.pipe_file, self._path(name, METADATA_FILE), raw)  # ... the manifest last
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        key = hashlib.sha256(raw).hexdigest()
        self.cache.put(staged, key, name)
        self.refresh()
        return self._open_cached(key, name, raw, files)

    def _put(self, name, file, local):
        self._call(self.fs.put_file, str(local), self._path(name, file))

    def delete(self, name):
        """Remove a version for every server: its manifest first (it is gone from every listing at
        once), then its files (a crash between leaves orphans for cleanup)."""
        name = str(name)
        if name in SHIPPED_MODELS:
            raise PermissionError(f"{name!r} ships with VAE Explorer and cannot be deleted")
        if not NAME.fullmatch(name):
            raise FileNotFoundError(f"no model version named {name!r}")
        objects = self._call(self.fs.find, f"{self.root}/{name}/")
        objects = [p for p in objects if p.startswith(f"{self.root}/{name}/")]
        manifest = self._path(name, METADATA_FILE)
        if manifest not in objects:
            raise FileNotFoundError(f"no model version named {name!r}")
        self._call(self.fs.rm_file, manifest)
        rest = [p for p in objects if p != manifest]
        if rest:
            self._call(self.fs.rm, rest)
        for key, cached, _, _, _ in self.cache.entries():
            if cached == name:
                self.cache.remove(key)
        self.refresh()

    # -- orphans ---------------------------------------------------------------------------

    def cleanup(self, older_than=ORPHAN_SECONDS):
        """Remove objects that belong to no version and are older than `older_than` seconds: an
        upload or a delete cut off halfway, or files a manifest does not list. Returns their paths."""
        cutoff = time.time() - older_than
        doomed = []
        for name, files in self._call(self._objects).items():
            manifest = files.get(METADATA_FILE)
            listed = set()
            if manifest is not None:
                try:
                    _, table, _ = read_manifest(self._call(self.fs.cat_file, self._path(name, METADATA_FILE)))
                except FileNotFoundError:
                    continue  # deleted meanwhile
                if table is None:
                    continue  # a damaged version: the operator decides
                listed = set(table) | {METADATA_FILE}
            for file, info in files.items():
                modified = info.get("LastModified")
                if file not in listed and hasattr(modified, "timestamp") and modified.timestamp() < cutoff:
                    doomed.append(self._path(name, file))
        if doomed:
            self._call(self.fs.rm, doomed)
        return doomed

    def _cleanup_quietly(self):
        try:
            self.cleanup()
        except Exception:  # the next listing tells the page if the store is down
            pass

    def _path(self, name, file):
        return f"{self.root}/{name}/{file}"


def _mtime(path):
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def main(argv=None):
    """python -m vae.store.s3 cleanup [--older-than-hours 24]: what each server also does hourly,
    for VAE_MODELS_DIR's store, at once; prints the objects removed."""
    import argparse
    parser = argparse.ArgumentParser(description="Remove objects of no version from the model store.")
    parser.add_argument("command", choices=["cleanup"])
    parser.add_argument("--older-than-hours", type=float, default=ORPHAN_SECONDS / 3600)
    args = parser.parse_args(argv)
    location = settings.models_location()
    if not settings.is_object_store(location):
        parser.error(f"VAE_MODELS_DIR is a folder ({location}), not an s3:// store")
    for path in S3Versions(location).cleanup(older_than=args.older_than_hours * 3600):
        print(f"removed s3://{path}")


if __name__ == "__main__":
    main()
