"""Where the domain tells the notification side that something members should hear of happened."""


def session_changed(session, *, kind: str) -> None:
    """A session was cancelled or moved: members with a contact consent will be told.

    Called inside the cancelling or moving transaction: the notices are written to the outbox
    in that same transaction and handed to the workers with `transaction.on_commit`, so a
    rolled-back change tells nobody and a committed one cannot lose its notices.
    """
    from .services import session_change_notices_enqueue

    session_change_notices_enqueue(session=session, kind=kind)


def waitlist_left(enrollment, *, why: str) -> None:
    """Someone left a group's waiting list (or referral) not by their own choice — the group
    ended, two offers lapsed, consent withdrawn —: they are told, if they may be contacted.
    Written in the same transaction, sent once it commits."""
    from .services import waitlist_left_notice_enqueue

    waitlist_left_notice_enqueue(enrollment=enrollment, why=why)
