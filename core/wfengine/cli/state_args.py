"""The initial state of ``wf run`` and the patch of ``wf runs resume``, from the command line.

``-s key=value`` (repeatable): the value is parsed as JSON when it parses (``-s n=3``,
``-s flags='["a"]'``, ``-s ok=true``), else kept as a string (``-s path=data.csv``). A dotted
key nests (``-s limits.max=5`` gives ``{"limits": {"max": 5}}``). ``--state '{...}'`` gives a
whole JSON object, ``--state @file.json`` (or ``.yaml``) reads one from a file; ``-s`` values
are applied on top of it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

TOO_DEEP = "JSON nested too deeply"


def parse_value(text: str) -> Any:
    """``text`` as JSON when it is valid JSON, else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text
    except RecursionError:
        raise click.BadParameter(TOO_DEEP) from None


def parse_assignment(text: str) -> tuple[list[str], Any]:
    """``"a.b=1"`` → ``(["a", "b"], 1)``; a ``click.BadParameter`` saying what is wrong."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep:
        raise click.BadParameter(f"{text!r} is not key=value (example: -s threshold=3)")
    path = key.split(".")
    if not key or any(not part for part in path):
        raise click.BadParameter(f"{text!r} has an empty key (example: -s threshold=3)")
    return path, parse_value(raw)


def assign(state: dict[str, Any], path: Sequence[str], value: Any) -> None:
    """Set ``state[path[0]][path[1]]... = value``, creating nested dicts on the way."""
    target = state
    for i, part in enumerate(path[:-1]):
        child = target.get(part)
        if child is None:
            child = target[part] = {}
        elif not isinstance(child, dict):
            where = ".".join(path[: i + 1])
            raise click.BadParameter(
                f"cannot set {'.'.join(path)}: {where} is {json.dumps(child)}, not an object"
            )
        target = child
    target[path[-1]] = value


def load_state_option(text: str | None) -> dict[str, Any]:
    """The ``--state`` option: a JSON object, or ``@path`` to a JSON/YAML file holding one."""
    if not text:
        return {}
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            raw = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(f"cannot read {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise click.BadParameter(
                f"{path} is not UTF-8 text (byte {exc.start}): give a JSON or YAML file"
            ) from None
        data = _parse_document(raw, path)
        where = str(path)
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise click.BadParameter(f"not valid JSON: {exc}") from None
        except RecursionError:
            raise click.BadParameter(TOO_DEEP) from None
        where = "--state"
    if not isinstance(data, dict):
        raise click.BadParameter(f"{where} must hold a JSON object, got {type(data).__name__}")
    return data


def _parse_document(raw: str, path: Path) -> Any:
    if path.suffix.lower() in {".yaml", ".yml"}:
        from wfengine.errors import SpecError
        from wfengine.spec_yaml import parse_yaml

        try:
            return parse_yaml(raw, str(path))
        except SpecError as exc:
            where = f" ({exc.where})" if exc.where else ""
            raise click.BadParameter(f"{path}: not valid YAML{where}: {exc.message}") from None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise click.BadParameter(f"{path}: not valid JSON: {exc}") from None
    except RecursionError:
        raise click.BadParameter(f"{path}: {TOO_DEEP}") from None


def build_state(
    state_option: dict[str, Any] | None, assignments: Sequence[tuple[list[str], Any]]
) -> dict[str, Any]:
    """``--state`` first, then every parsed ``-s key=value`` in order on top of it."""
    state = dict(state_option or {})
    for path, value in assignments:
        try:
            assign(state, path, value)
        except click.BadParameter as exc:
            exc.param_hint = "'-s' / '--set'"
            raise
    return state


def _state_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    return load_state_option(value)


def _set_callback(
    ctx: click.Context, param: click.Parameter, value: Sequence[str]
) -> list[tuple[list[str], Any]]:
    return [parse_assignment(text) for text in value]


def state_options(func: Any) -> Any:
    """Add ``-s/--set key=value`` and ``--state JSON|@file`` to a command."""
    func = click.option(
        "--state",
        "state_json",
        metavar="JSON|@FILE",
        callback=_state_callback,
        help="Initial state as a JSON object, or @path to a JSON/YAML file holding one.",
    )(func)
    func = click.option(
        "-s",
        "--set",
        "assignments",
        multiple=True,
        metavar="KEY=VALUE",
        callback=_set_callback,
        help="Set one state key (repeatable). VALUE is parsed as JSON when it parses, else a "
        "string; a dotted KEY nests (a.b=1).",
    )(func)
    return func
