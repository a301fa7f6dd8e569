"""Questions asked from inside a node: :func:`interrupt` and the answers that resume a run.

A node calls ``wfengine.interrupt(value)`` to ask a person something (any JSON-able value: a
prompt, a draft to approve, a form). The first time, the call raises :class:`NodeInterrupt`;
the driver catches it, keeps the question on the run (``run.questions``) and pauses the run.
Resuming with an answer (``engine.resume(run_id, answer=...)``) runs the node again from its
start, and this time ``interrupt()`` returns the answer. Code before ``interrupt()`` in the node
runs again on that attempt: keep side effects after it, or make them idempotent.

A node may ask several questions in turn: its answers are kept in order
(``run.answers[node]``) and the n-th ``interrupt()`` call returns the n-th answer; a call past
the answers given pauses the run again with the next question.

The answers reach the node through a context variable set around the node's function (see
:func:`answering`), not through the runner: whatever backend runs the function (a thread, the
event loop, a worker process that unpickles it) sees its answers the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from .contextual import calling_with
from .errors import WorkflowError


class AnswerError(WorkflowError):
    """An answer that fits no pending question (none pending, an unknown node, several
    pending and one bare answer, a value that is not JSON-able)."""


class _NoAnswer:
    def __repr__(self) -> str:
        return "NO_ANSWER"


NO_ANSWER: Any = _NoAnswer()
"""``answer``'s default in ``resume``: no answer given (``None`` is an answer)."""


class NodeInterrupt(Exception):  # noqa: N818 - not an error: the node asks a question
    """Raised by :func:`interrupt` when its question has no answer yet; the run pauses.

    A node must let it through (an ``except Exception`` around ``interrupt()`` that swallows
    it keeps the run from pausing).
    """

    def __init__(self, value: Any, index: int) -> None:
        super().__init__(f"interrupt #{index + 1}: {value!r}")
        self.value = value
        self.index = index

    def __reduce__(self) -> tuple[Any, ...]:  # travels back from a worker process as itself
        return (type(self), (self.value, self.index))


class _Answers:
    """The answers one node attempt was given, and how many ``interrupt()`` calls used."""

    __slots__ = ("answers", "used")

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.used = 0


_ANSWERS: ContextVar[_Answers | None] = ContextVar("wfengine_answers", default=None)


def interrupt(value: Any = None) -> Any:
    """Ask a person ``value`` (JSON-able) from inside a node; returns their answer.

    The first time, the run pauses with the question (``run.questions``); resumed with an
    answer, the node runs again from its start and this call returns the answer. Several
    calls in one node are answered in order.
    """
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise WorkflowError(
            f"interrupt() needs a JSON-able question (it is stored with the run), got "
            f"{type(value).__name__}: {exc}"
        ) from None
    given = _ANSWERS.get()
    if given is None:
        raise NodeInterrupt(value, 0)
    index = given.used
    if index < len(given.answers):
        given.used += 1
        return given.answers[index]
    raise NodeInterrupt(value, index)


def answering(func: Callable[[Any], Any], answers: list[Any]) -> Callable[[Any], Any]:
    """``func`` with ``answers`` for its ``interrupt()`` calls (a copy per call)."""
    return calling_with(
        func, _ANSWERS, lambda: _Answers(list(answers)), "wfengine_answers", answers
    )


def answers_given(answers: list[Any]) -> Any:
    """Give ``answers`` to the ``interrupt()`` calls in this context (a worker process runs a
    remote node call so). Returns the reset token for :func:`answers_done`."""
    return _ANSWERS.set(_Answers(list(answers)))


def answers_done(token: Any) -> None:
    """Undo :func:`answers_given`."""
    _ANSWERS.reset(token)


def question_info(exc: NodeInterrupt) -> dict[str, Any]:
    """A pending question as JSON data: ``value`` and ``index`` (0 for a node's first)."""
    return {"value": exc.value, "index": exc.index}


def apply_answer(
    questions: Mapping[str, Mapping[str, Any]],
    answers: dict[str, list[Any]],
    answer: Any,
    run_id: str,
) -> None:
    """Add ``answer`` to ``answers`` for the pending ``questions``.

    One pending question takes the answer as it is; several take ``{node: answer}`` with
    one entry per node asking (a dict naming exactly those nodes is read that way when only
    one is pending too).
    """
    if not questions:
        raise AnswerError(f"run {run_id} has no pending question; resume it without an answer")
    pending = list(questions)
    if len(pending) == 1 and not (isinstance(answer, Mapping) and set(answer) == set(pending)):
        per_node: Mapping[str, Any] = {pending[0]: answer}
    elif isinstance(answer, Mapping):
        per_node = answer
    else:
        raise AnswerError(
            f"run {run_id} has {len(pending)} pending questions (nodes "
            f"{', '.join(pending)}); answer each by node: {{node: answer}} "
            "(wf runs resume ID --answer node=JSON ...)"
        )
    unknown = [n for n in per_node if n not in questions]
    if unknown:
        raise AnswerError(
            f"run {run_id}: no pending question from node(s) {', '.join(unknown)}; the "
            f"pending ones are from {', '.join(pending)}"
        )
    for node, value in per_node.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise AnswerError(
                f"run {run_id}: the answer for node {node} must be JSON-able: {exc}"
            ) from None
        asked = answers.setdefault(node, [])
        del asked[int(questions[node].get("index", 0)) :]
        asked.append(value)
