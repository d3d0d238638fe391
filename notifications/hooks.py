"""Where the domain tells the notification side that something members should hear of happened.

The notifications work (outbox, tasks) plugs in here; until then nothing is sent.
"""


def session_changed(session, *, kind: str) -> None:
    """A session was cancelled or moved: members with a contact consent will be told."""
