"""The object store's versions as this server lists them: kept LISTING_SECONDS, refreshed in
the background, and the cache's versions when the store is down.

A refresh runs in one background call shared by every session; a page waits for it a little
(LISTING_WAIT_SECONDS), then goes on with the last listing. A listing reads one listing of the
objects and only the manifests it has not seen (by ETag). A version written or deleted by
another server shows within a few seconds.
"""
import concurrent.futures
import threading
import time

from vae.store.disk import METADATA_FILE, SHIPPED_MODELS, VERSION_NAME
from vae.store.s3.link import store_errors
from vae.store.s3.manifest import damage_against, manifest_key, read_manifest
from vae.store.versions import Entry

LISTING_SECONDS = 2.0  # how stale a listing may be: another server's new version shows within this
LISTING_WAIT_SECONDS = 1.0  # the longest a page waits for a listing; then it shows the last one
FIRST_LISTING_WAIT_SECONDS = 5.0  # a new listing (a new server, a name not listed yet) is waited for longer
HOURLY = 3600.0  # how often the listing's thread runs its chore (the orphans' cleanup)


def mtime(path):
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


class Listing:
    """{name: (Entry, sort time)} of one store's versions, for every session of this server.
    `chore`: run on the listing's thread after a listing, at most HOURLY, the first a minute
    after start."""

    def __init__(self, link, cache, chore=None):
        self.link = link
        self.cache = cache
        self._chore = chore
        self._last_chore = time.monotonic() - HOURLY + 60
        self._lock = threading.Lock()  # one listing at a time; the others wait for it
        self._listing = None  # (monotonic time, {name: (Entry, sort time)}) of the store's versions
        self._raw = {}  # name → its manifest's bytes, as last listed
        self._manifests = {}  # manifest path → (ETag, bytes): a listing fetches only new manifests
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="vae-store")
        self._refreshing = None  # the listing under way, shared by every caller
        self._generation = 0  # counts refresh() calls: a listing begun before one is not kept
        self._waited_for = None  # the listing a caller waited FIRST_LISTING_WAIT_SECONDS for
        self._bad = {}  # (name, revision) → damage found when its files were downloaded

    def manifest(self, name):
        """The manifest's bytes of `name` as last listed; None when the listing came from the cache."""
        return self._raw.get(name)

    def mark_damaged(self, name, revision, why):
        """A download found this revision's files damaged: listed so from now on."""
        self._bad[(name, revision)] = why

    def refresh(self):
        """Forget the listing: the next call lists the store again (waiting for it, a little)."""
        with self._lock:
            self._listing = None
            self._refreshing = None  # one under way may predate what the caller knows of
            self._generation += 1

    def _current(self):
        """The last listing, unless the store failed since: then what the cache holds counts."""
        if self._listing is not None and self._listing[0] < self.link.down_at:
            self._listing = None
        return self._listing

    def entries(self, wait=LISTING_WAIT_SECONDS):
        """{name: (Entry, sort time)} of the store's versions, at most LISTING_SECONDS old when the
        store answers. A page waits for a refresh at most `wait` seconds, then goes on with the
        last listing (or the cache's). With no listing at all (the first, or after refresh()) the
        first caller waits for it up to FIRST_LISTING_WAIT_SECONDS, unless the store is already
        known to be down."""
        with self._lock:
            now = time.monotonic()
            listing = self._current()
            if listing is not None and now - listing[0] < LISTING_SECONDS:
                return listing[1]
            if self._refreshing is None and not self.link.down:
                self._refreshing = self._pool.submit(self._refresh)
            refreshing = self._refreshing
            if listing is None and self.link.problem is None and self._waited_for is not refreshing:
                wait = max(wait, FIRST_LISTING_WAIT_SECONDS)
                self._waited_for = refreshing  # once per listing: later callers do not queue up behind it
        if refreshing is not None:
            try:
                return refreshing.result(timeout=wait)
            except concurrent.futures.TimeoutError:
                pass
            except store_errors():
                pass  # _refresh said why, in link.problem
        with self._lock:
            listing = self._current()
            return listing[1] if listing is not None else self._cached_entries()

    def _refresh(self):
        generation = self._generation
        try:
            entries = self._list_store()
        except store_errors() as err:
            self.link.went_down(err)
            with self._lock:
                if generation == self._generation:
                    self._refreshing = None
            raise
        with self._lock:
            self.link.answered()
            if generation == self._generation:  # not begun before a refresh() asked for a newer one
                self._listing = (time.monotonic(), entries)
                self._refreshing = None
        if self._chore is not None and time.monotonic() - self._last_chore > HOURLY:
            self._last_chore = time.monotonic()
            self._pool.submit(self._chore)
        return entries

    def _list_store(self):
        """Every version under the prefix, from one listing and the manifests not seen before."""
        groups = self.link.objects()
        paths = {name: self.link.path(name, METADATA_FILE) for name, files in groups.items()
                 if METADATA_FILE in files and VERSION_NAME.fullmatch(name) and name not in SHIPPED_MODELS}
        stale = [path for name, path in paths.items()
                 if self._manifests.get(path, (None,))[0] != groups[name][METADATA_FILE].get("ETag")]
        if stale:  # fetched together: fsspec runs the requests at once
            for path, raw in self.link.fs.cat(stale, on_error="omit").items():
                name = path[len(self.link.root) + 1:].split("/")[0]
                self._manifests[path] = (groups[name][METADATA_FILE].get("ETag"), raw)
        entries = {}
        for name, path in paths.items():
            if path not in self._manifests:
                continue  # deleted between the listing and the read
            raw = self._manifests[path][1]
            metadata, files, damage = read_manifest(raw)
            revision = manifest_key(raw)
            damage = damage or damage_against(files, groups[name]) or self._bad.get((name, revision))
            modified = groups[name][METADATA_FILE].get("LastModified")
            entries[name] = (Entry(name=name, damage=damage, metadata=metadata, revision=revision),
                             modified.timestamp() if hasattr(modified, "timestamp") else 0.0)
            self._raw[name] = raw
        self._manifests = {path: seen for path, seen in self._manifests.items() if path in paths.values()}
        self._raw = {name: raw for name, raw in self._raw.items() if name in entries}
        return entries

    def _cached_entries(self):
        """What this server can open without the store: the versions in its cache."""
        return {name: (Entry(name=name, damage=None, metadata=metadata, revision=key), mtime(directory))
                for name, (key, directory, metadata) in self.cache.newest_by_name().items()
                if name not in SHIPPED_MODELS}
