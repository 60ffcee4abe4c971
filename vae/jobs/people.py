"""Who a job belongs to, without knowing who anybody is.

A browser holds a random secret (a cookie, vae/ui/browser_identity). Jobs record only an
owner id derived from it, so the id in a job file or in Ray's job list cannot be replayed
as the secret; other people see a short anonymous name made from the id.
"""
import hashlib
import re

TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{22,64}")  # what a browser may present as its secret
OPERATOR = "operator"  # the owner id of jobs started from the command line or by the operator alone

ANIMALS = ("otter", "heron", "lynx", "wren", "ibex", "koala", "puffin", "gecko", "bison", "orca", "tapir",
           "finch", "marten", "newt", "okapi", "quail", "raven", "seal", "stoat", "yak", "zebu", "vole",
           "egret", "dingo", "hare", "ibis", "lemur", "moth", "panda", "robin", "swift", "toad")


def owner_id(token):
    """The id a job records for the browser holding `token`; None for a token of the wrong form."""
    if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
        return None
    return hashlib.sha256(("vae-owner:" + token).encode()).hexdigest()[:24]


def display_name(owner):
    """A short name for an owner id, the same on every page: "heron-3f"."""
    if owner == OPERATOR:
        return "operator"
    digest = hashlib.sha256(str(owner).encode()).digest()
    return f"{ANIMALS[digest[0] % len(ANIMALS)]}-{digest[1]:02x}"
