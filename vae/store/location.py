"""Which model versions a location names: a local folder (vae.store.versions) or an object store
behind an s3:// URL (vae.store.s3, imported only then: the default path never loads s3fs).

A location is what VAE_MODELS_DIR holds (settings.models_location()): a Path, or a URL string.
A target is a location and a version name joined: where a trainer saves the version it makes.
"""
from pathlib import Path

from vae import settings
from vae.store.versions import Versions


def open_versions(location=None):
    """The versions at `location` (default: the setting), local or in an object store."""
    location = settings.models_location() if location is None else location
    if settings.is_object_store(location):
        from vae.store.s3 import S3Versions
        return S3Versions(location)
    return Versions(location)


def join(location, name):
    """The target for the version `name` at `location`."""
    if settings.is_object_store(location):
        return f"{location.rstrip('/')}/{name}"
    return Path(location) / name


def split_target(target):
    """(the versions holding `target`, its version name)."""
    if settings.is_object_store(str(target)):
        parent, _, name = str(target).rstrip("/").rpartition("/")
        if not name or not parent.startswith("s3://") or parent == "s3://":
            raise ValueError(f"{target} names no version: use s3://bucket/prefix/NAME")
        return open_versions(parent), name
    target = Path(target)
    return Versions(target.parent), target.name
