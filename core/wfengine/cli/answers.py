"""``wf runs resume --answer``: the answer(s) to a run's pending ``interrupt()`` questions.

``--answer JSON`` (or a plain word, kept as a string, as ``-s`` values are) or ``--answer
@file.json`` (``.yaml`` too) answers the one pending question. With several pending (nodes
asking side by side), each gets its own: ``--answer review=true --answer legal=@legal.json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ..interrupts import NO_ANSWER
from .state_args import TOO_DEEP, _parse_document, parse_value

_NODE_ANSWER = re.compile(r"^([A-Za-z_][\w.-]*)=(.*)$", re.DOTALL)


def _value(text: str) -> Any:
    """One answer: ``@path`` to a JSON/YAML file, else JSON, else the text itself."""
    if not text.startswith("@"):
        return parse_value(text)
    path = Path(text[1:])
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise click.BadParameter(f"{path} is not UTF-8 text (byte {exc.start})") from None
    return _parse_document(raw, path)


def parse_answers(values: Sequence[str]) -> Any:
    """The ``answer`` for ``resume`` from the ``--answer`` options (``NO_ANSWER`` for none)."""
    if not values:
        return NO_ANSWER
    if len(values) == 1:
        text = values[0]
        try:
            return json.loads(text)  # a bare JSON answer, even one holding "="
        except ValueError:
            pass
        except RecursionError:
            raise click.BadParameter(TOO_DEEP) from None
        found = _NODE_ANSWER.match(text)
        if found is None:
            return _value(text)
        return {found.group(1): _value(found.group(2))}
    answers: dict[str, Any] = {}
    for text in values:
        found = _NODE_ANSWER.match(text)
        if found is None:
            raise click.BadParameter(
                f"{text!r}: with several --answer options each must be node=JSON "
                "(example: --answer review=true --answer legal=@legal.json)"
            )
        answers[found.group(1)] = _value(found.group(2))
    return answers
