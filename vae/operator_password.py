"""Who may train and delete: the operator password, as plain functions (the page is in
vae/ui/operator_lock.py).

When VAE_OPERATOR_PASSWORD (or `[vae] operator_password` in .streamlit/secrets.toml) is
set, starting and stopping training and deleting versions need it. When it is not set,
anyone who can open the page may do them, as on a laptop.
"""
import hashlib
import hmac

ENV_VAR = "VAE_OPERATOR_PASSWORD"
SECRET_KEY = "operator_password"


def configured_password(environ, secret=None):
    """The password from the environment, else from secrets.toml; None when neither sets one.
    A blank value counts as unset: nobody could type it."""
    value = environ.get(ENV_VAR)
    if value is None:
        value = secret
    if value is None or not str(value).strip():
        return None
    return str(value)


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
