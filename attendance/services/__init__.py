"""What the business does with membership, consent and attendance."""

from .consent_texts import *  # noqa: F401,F403
from .consents import *  # noqa: F401,F403
from .enrollments import *  # noqa: F401,F403
from .follow_ups import *  # noqa: F401,F403
from .roster import *  # noqa: F401,F403
