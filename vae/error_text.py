"""An exception as one short line, for a message on the page: its type, and the first line of
what it says. The store's and the Ray runner's "cannot be reached (…)" both quote errors so:
a stack of library messages, told in full, would bury what the person should do."""


def first_line(err, limit=200):
    """"TypeName: the first line of the message", cut at `limit` characters; the type alone
    when the message is empty."""
    text = (str(err).strip().splitlines() or [""])[0][:limit]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
