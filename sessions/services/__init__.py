"""What the business does with groups and sessions: plan, schedule, cancel, write notes."""

from .groups import *  # noqa: F401,F403
from .lifecycle import *  # noqa: F401,F403
from .notes import *  # noqa: F401,F403
from .quorum import *  # noqa: F401,F403
from .scheduling import *  # noqa: F401,F403
