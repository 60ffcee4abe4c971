"""Model versions in an object store (vae.store.s3) against moto's real S3 protocol server on
127.0.0.1 (the `s3_server` fixture): s3fs speaks HTTP to it, nothing is mocked.

Each test gets a fresh bucket; each store handle its own cache folder, as two servers would have.
"""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from vae import settings
from vae.store import disk
from vae.settings import SettingError
from vae.store.versions import DamagedVersionError, Versions
from vae.store.s3 import S3Versions, StoreUnavailable

from conftest import REPO_ROOT, TEST_AWS_SECRET, free_port, new_bucket
from helpers import wait_for


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    """(model, metadata, x_test) of the tiny model, to write as new versions."""
    version = Versions(tiny_model_dir.parent).open(tiny_model_dir.name)
    return version.load_model(), version.metadata, version.test_set()["x_test"]


def handle(url, tmp_path, label, **options):
    """A store handle with its own cache folder: one server's view of the disk."""
    return S3Versions(url, cache_dir=tmp_path / f"cache-{label}", **options)


def write(versions, name, tiny):
    model, metadata, x_test = tiny
    return versions.write(name, model, {**metadata, "name": name}, x_test)


def objects(versions, name=None):
    prefix = versions.root + (f"/{name}/" if name else "")
    return sorted(p[len(versions.root) + 1:] for p in versions.fs.find(prefix) if p.startswith(prefix))


def test_write_list_open_and_delete_a_version(s3_models, tmp_path, tiny):
    writer, reader = handle(s3_models, tmp_path, "a"), handle(s3_models, tmp_path, "b")
    assert reader.list()[0] == disk.DEFAULT_MODEL and "v1" not in reader.list()  # shipped ones, no store yet
    written = write(writer, "v1", tiny)
    assert objects(writer, "v1") == ["v1/decoder.json", "v1/encoder.json", "v1/metadata.json", "v1/model.keras",
                                     "v1/test_codes.npz", "v1/thumb_manifold.png", "v1/thumb_map.png"]
    manifest = json.loads(writer.fs.cat_file(f"{writer.root}/v1/metadata.json"))
    assert manifest["name"] == "v1" and set(manifest["files"]) == {"model.keras", "decoder.json", "encoder.json",
                                                                   "test_codes.npz", "thumb_manifold.png",
                                                                   "thumb_map.png"}
    assert manifest["files"]["model.keras"]["sha256"] == written.fingerprint

    reader.refresh()
    assert reader.list().index("v1") == 1  # after the default, newest first
    entry = reader.entry("v1")
    assert entry.damage is None and entry.metadata["metrics"] == tiny[1]["metrics"]

    version = reader.open("v1")
    assert reader.downloads == 1 and version.path.is_relative_to(tmp_path / "cache-b")
    assert version.path.parent.name == entry.revision  # the cache is keyed by the manifest's hash
    assert version.fingerprint == written.fingerprint
    model = version.load_model()  # Keras' safe_mode, from the cache
    assert model.decode(np.zeros((1, 2), "float32")).shape == (1, 28, 28)
    assert reader.open("v1").path == version.path and reader.downloads == 1  # downloaded once

    reader.delete("v1")
    assert "v1" not in reader.list() and objects(reader) == []
    with pytest.raises(FileNotFoundError):
        reader.open("v1")
    with pytest.raises(PermissionError):
        reader.delete(disk.DEFAULT_MODEL)


def test_a_version_deleted_through_one_handle_leaves_the_other_handles_listing(s3_models, tmp_path, tiny):
    one, other = handle(s3_models, tmp_path, "one"), handle(s3_models, tmp_path, "other")
    write(one, "shared", tiny)
    wait_for(lambda: "shared" in other.list(), 10, "the new version in the other handle's listing")
    other.open("shared")  # it has it cached, too
    one.delete("shared")
    asked = time.monotonic()
    wait_for(lambda: "shared" not in other.list(), 10, "the deleted version to leave the other listing")
    print(f"\ndeleted on one handle, gone from the other's listing in {time.monotonic() - asked:.2f} s")
    with pytest.raises(FileNotFoundError):
        other.open("shared")


UPLOAD_AND_HANG = """
import sys
from vae.store.versions import Versions
from vae.store.s3 import S3Versions, upload

url, cache, tiny_dir, name = sys.argv[1:5]
real_put = upload.put_file

def put_then_hang(link, version, file, local):
    real_put(link, version, file, local)
    print("uploaded", file, flush=True)
    if file == "model.keras":  # halfway: three of four files up, no manifest yet
        sys.stdin.read()  # until the test kills this process

upload.put_file = put_then_hang
tiny = Versions(tiny_dir).open("tiny")
S3Versions(url, cache_dir=cache).write(name, tiny.load_model(), {**tiny.metadata, "name": name},
                                       tiny.test_set()["x_test"])
print("finished", flush=True)
"""


def test_an_upload_killed_halfway_leaves_no_listed_version_and_cleanup_removes_it(s3_models, tmp_path,
                                                                                   tiny_model_dir):
    child = subprocess.Popen([sys.executable, "-c", UPLOAD_AND_HANG, s3_models, str(tmp_path / "cache-writer"),
                              str(tiny_model_dir.parent), "cut"], cwd=REPO_ROOT, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        said = []
        for line in child.stdout:  # the child's own words, as each upload completes
            said.append(line.strip())
            if line.strip() == "uploaded model.keras":
                break
        assert said[-1] == "uploaded model.keras", said
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    reader = handle(s3_models, tmp_path, "reader")
    assert objects(reader, "cut") == ["cut/decoder.json", "cut/encoder.json", "cut/model.keras"]  # no manifest
    assert "cut" not in reader.list()
    with pytest.raises(FileNotFoundError):
        reader.open("cut")
    assert reader.cleanup() == []  # younger than a day: perhaps an upload still under way
    cleaned = subprocess.run([sys.executable, "-m", "vae.store.s3", "cleanup", "--older-than-hours", "0"],
                             cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                             env={**os.environ, "VAE_MODELS_DIR": s3_models})  # the operator's command
    assert cleaned.returncode == 0, cleaned.stderr
    assert sorted(cleaned.stdout.split()) == ["removed", "removed", "removed", f"s3://{reader.root}/cut/decoder.json",
                                              f"s3://{reader.root}/cut/encoder.json", f"s3://{reader.root}/cut/model.keras"]
    assert objects(reader) == []


def test_a_damaged_manifest_is_listed_as_damaged_and_not_opened(s3_models, tmp_path, tiny):
    writer = handle(s3_models, tmp_path, "writer")
    for name in ("cut-manifest", "short-file", "foreign-bytes", "sound"):
        write(writer, name, tiny)
    root = writer.root
    raw = writer.fs.cat_file(f"{root}/cut-manifest/metadata.json")
    writer.fs.pipe_file(f"{root}/cut-manifest/metadata.json", raw[:len(raw) // 2])
    model = writer.fs.cat_file(f"{root}/short-file/model.keras")
    writer.fs.pipe_file(f"{root}/short-file/model.keras", model[:-100])
    # same size, one byte changed: only the hash tells
    flipped = model[:1000] + bytes([model[1000] ^ 0xFF]) + model[1001:]
    writer.fs.pipe_file(f"{root}/foreign-bytes/model.keras", flipped)

    reader = handle(s3_models, tmp_path, "reader")
    assert {"cut-manifest", "short-file", "foreign-bytes", "sound"} <= set(reader.list())  # all listed
    assert reader.entry("cut-manifest").damage == "unreadable metadata.json"
    assert reader.entry("short-file").damage.startswith("model.keras is ")
    assert "where its manifest says" in reader.entry("short-file").damage
    assert reader.entry("foreign-bytes").damage is None and reader.entry("sound").damage is None
    for name, words in (("cut-manifest", "unreadable metadata.json"), ("short-file", "manifest says"),
                        ("foreign-bytes", "does not match its manifest's SHA-256")):
        with pytest.raises(DamagedVersionError, match=words):
            reader.open(name)
    reader.refresh()
    assert "SHA-256" in reader.entry("foreign-bytes").damage  # found at the download, now listed so
    assert list((tmp_path / "cache-reader" / "versions").glob("*/foreign-bytes")) == []  # nothing cached
    assert reader.open("sound").name == "sound"


def test_the_cache_keeps_the_recently_used_within_its_cap(s3_models, tmp_path, tiny):
    writer = handle(s3_models, tmp_path, "writer")
    for name in ("a", "b", "c"):
        write(writer, name, tiny)
    reader = handle(s3_models, tmp_path, "reader")
    size = sum(f.stat().st_size for f in reader.open("a").path.iterdir())
    reader.cache.max_bytes = int(2.5 * size)  # room for two
    b = reader.open("b")
    reader.open("a")  # a is now more recent than b
    reader.open("c")  # one must go: b, the least recently used
    cached = {name for _, name, _, _, _ in reader.cache.entries()}
    assert cached == {"a", "c"} and reader.downloads == 3
    assert b.model_file.exists()  # b's explorer still works: its files come back
    assert reader.downloads == 4
    total = sum(e[3] for e in reader.cache.entries())
    assert total <= reader.cache.max_bytes


@pytest.mark.s3
def test_an_unreachable_store_is_named_and_the_cached_versions_stay(tmp_path, tiny, monkeypatch):
    from moto.server import ThreadedMotoServer
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        url = f"s3://{new_bucket(endpoint)}/models"
        versions = handle(url, tmp_path, "server")
        write(versions, "kept", tiny)  # cached here as it is written
        write(handle(url, tmp_path, "elsewhere"), "not-here", tiny)
        versions.refresh()
        assert {"kept", "not-here"} <= set(versions.list()) and versions.problem is None
    finally:
        server.stop()
    versions.refresh()
    asked = time.monotonic()
    names = versions.list()
    took = time.monotonic() - asked
    assert took < 8, took  # a refused connection fails at once; at most FIRST_LISTING_WAIT_SECONDS
    wait_for(lambda: versions.problem, 10, "the store's failure to be told")
    assert url in versions.problem and f"127.0.0.1:{port}" in versions.problem and "cannot be reached" in versions.problem
    assert TEST_AWS_SECRET not in versions.problem
    names = versions.list()
    assert "kept" in names and "not-here" not in names and names[0] == disk.DEFAULT_MODEL
    assert versions.open("kept").name == "kept"  # from the cache, without the store
    with pytest.raises(StoreUnavailable, match="cannot be reached"):
        versions.open("not-here")
    asked = time.monotonic()
    with pytest.raises(OSError, match="not writable"):
        versions.check_writable()  # a job is refused before it trains
    assert time.monotonic() - asked < 5


@pytest.mark.s3
def test_a_store_that_does_not_answer_holds_no_page_longer_than_a_few_seconds(tmp_path, monkeypatch):
    import socket
    silent = socket.socket()  # accepts connections (the kernel's backlog) and never says a word
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        versions = handle("s3://silent-bucket/models", tmp_path, "server")
        asked = time.monotonic()
        names = versions.list()
        assert time.monotonic() - asked < 8  # FIRST_LISTING_WAIT_SECONDS (5 s), then the page goes on
        asked = time.monotonic()
        versions.list()
        assert time.monotonic() - asked < 3  # while that listing is still under way: LISTING_WAIT_SECONDS (1 s)
        assert names[0] == disk.DEFAULT_MODEL
        wait_for(lambda: versions.problem, 20, "the silent store to be reported")
        assert "s3://silent-bucket/models" in versions.problem
    finally:
        silent.close()


@pytest.mark.parametrize("value, expected", [
    ("s3://bucket/prefix/", "s3://bucket/prefix"),
    ("s3://my.bucket", "s3://my.bucket"),
    ("/some/folder", None),
])
def test_the_models_setting_takes_a_folder_or_an_s3_url(monkeypatch, value, expected):
    monkeypatch.setenv("VAE_MODELS_DIR", value)
    location = settings.models_location()
    assert location == (expected if expected else __import__("pathlib").Path(value))
    assert settings.is_object_store(location) == bool(expected)


@pytest.mark.parametrize("value, words", [
    ("s3://AKIAEXAMPLE:wJalrXUtnFEMI@bucket/models", "no credentials in the URL"),
    ("gs://bucket/models", "takes a folder or s3://bucket/prefix"),
    ("s3://Bad_Bucket/models", "valid bucket name"),
])
def test_a_models_url_that_cannot_be_used_is_refused_saying_why(monkeypatch, value, words):
    monkeypatch.setenv("VAE_MODELS_DIR", value)
    with pytest.raises(SettingError, match=words) as err:
        settings.models_location()
    assert "wJalrXUtnFEMI" not in str(err.value)
