"""Model versions in an object store, `s3://bucket/prefix` on any S3-compatible service, through
fsspec and s3fs: the four verbs of vae.store.versions (list, open, write, delete) on objects.

  s3://bucket/prefix/<name>/model.keras, decoder.json, encoder.json,    written first
                                  test_codes.npz, thumb_map.png, thumb_manifold.png
                           /metadata.json                               the manifest, written last

One job a module:
  link.py       the store's file system, and whether it answers (a failed call marks it down)
  manifest.py   the manifest: metadata.json plus each other file's SHA-256 and size
  listing.py    the listing, kept a few seconds and refreshed in the background
  upload.py     a new version: its files, then its manifest
  delete.py     a version removed: its manifest, then its files
  orphans.py    objects of no version (an upload or a delete cut off), removed once a day old
  gallery.py    the gallery's objects: thumbnails beside an older version, the featured list
  versions.py   S3Versions: the verbs, from those and this server's cache (vae.store.cache)
  __main__.py   `python -m vae.store.s3 cleanup`

An object store has no rename, so the manifest's arrival is what makes a version exist: readers
list only names with a manifest. A manifest that cannot be read, or that names a missing or
wrongly sized file, is listed as damaged; a file whose hash differs is found at the download and
the version is then listed as damaged too.

Endpoint and credentials come from botocore's usual sources (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a role); none is ever put in a message. s3fs is imported on
first use only.
"""
from vae.store.s3.link import StoreUnavailable, endpoint
from vae.store.s3.versions import S3Versions

__all__ = ["S3Versions", "StoreUnavailable", "endpoint"]
