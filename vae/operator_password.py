"""Who may train for others and delete: the operator password, as plain functions (the page is
in vae/ui/operator_lock.py; where the password is set, in vae/settings.py).

When a password is set, deleting versions, stopping other people's jobs and running more than
one job need it, and so does training at all unless training is open to everyone
(VAE_TRAINING=everyone). When it is not set, anyone who can open the page is treated alike.
"""
import hashlib
import hmac


def password_matches(given, expected):
    """Constant-time comparison (hmac.compare_digest), so the time taken does not tell an
    attacker how many leading characters were right."""
    if not expected or not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def fingerprint(password):
    """What a session keeps once unlocked: not the password itself, and it stops matching
    when the operator changes the password."""
    return hashlib.sha256(("vae-operator:" + password).encode("utf-8")).hexdigest()
