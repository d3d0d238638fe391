"""What the notification side does: write messages to the outbox, send each of them once, and
the periodic jobs that decide who hears what.

Every message is first an `OutboxMessage` row whose unique key says what, to whom and about
what; a job that runs twice finds its rows already there. Sending commits a claim before the
provider is called and the outcome right after (outbox.py), so a second worker finds the
message claimed or sent, and a worker killed mid-send leaves a claim that, once timed out,
marks the message as of unknown fate: sent again once, under the same Message-ID.

Members are contacted only with an active contact consent, checked when the message is written
and again when it is sent. Member-facing texts carry the date, time, place and the
institution's name, never the group's name or category (that alone can reveal a diagnosis).
"""

from .members import *  # noqa: F401,F403
from .outbox import *  # noqa: F401,F403
from .outbox import _error_text  # noqa: F401  (the send task records the error as text)
from .retention import *  # noqa: F401,F403
from .staff import *  # noqa: F401,F403
from .waitlist import *  # noqa: F401,F403
