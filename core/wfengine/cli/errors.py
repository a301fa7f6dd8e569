"""The two kinds of error ``wf`` reports itself: the user's (exit 2) and unexpected (exit 1)."""

from __future__ import annotations

import click

EXIT = {
    "ok": 0,
    "failed": 1,
    "usage": 2,
    "paused": 3,
    "cancelled": 130,
}
"""Exit codes of ``wf``; ``wf --help`` lists them."""


class UserError(click.ClickException):
    """A problem with what the user asked for: one line on stderr, exit code 2."""

    exit_code = EXIT["usage"]


class UnexpectedError(click.ClickException):
    """A bug or an environment problem: one line and a hint to use ``--debug``, exit 1."""

    exit_code = EXIT["failed"]
