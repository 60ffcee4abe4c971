"""python -m vae.store.s3 cleanup [--older-than-hours 24]: what each server also does hourly,
for VAE_MODELS_DIR's store, at once; prints the objects removed."""
import argparse

from vae import settings
from vae.store.s3.orphans import ORPHAN_SECONDS
from vae.store.s3.versions import S3Versions


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m vae.store.s3",
                                     description="Remove objects of no version from the model store.")
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
