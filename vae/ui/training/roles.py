"""Who may do what on the Train tab."""
from vae.ui.operator_lock import password, unlocked


def roles(mode):
    """(is operator, may start a job). With a password set, only the operator trains, unless
    training is open to everyone (VAE_TRAINING=everyone, for a class)."""
    has_password = password() is not None
    operator = has_password and unlocked()
    return operator, (not has_password) or operator or mode == "everyone"
