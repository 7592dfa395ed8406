"""What the CLI reports as a user's problem: one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix: bad values, a missing tool, an unreadable upstream folder."""
