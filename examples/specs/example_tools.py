"""Plain functions the example specs call by import path (``call: example_tools.py:inc``).

``wf run examples/specs/counter.json`` loads this file from the spec's folder; no plugin is
needed. Each is called ``func(state, **params)`` and returns the keys it changes.
"""

from __future__ import annotations

from typing import Any


def inc(state: dict[str, Any], by: int = 1) -> dict[str, Any]:
    """Add ``by`` to ``n``."""
    return {"n": state.get("n", 0) + by}


def score(state: dict[str, Any], model: str = "baseline") -> dict[str, Any]:
    """Score the item (its ``value``, default 0.5) and fill in the review's inputs that the
    state does not give: ``min_score`` 0.3, ``flags`` none, ``region`` internal."""
    return {
        "score": float(state.get("value", 0.5)),
        "model": model,
        "min_score": state.get("min_score", 0.3),
        "flags": state.get("flags", []),
        "region": state.get("region", "internal"),
        "counts": state.get("counts", {}),
    }


def escalate(state: dict[str, Any]) -> dict[str, Any]:
    """Mark the item for a person to look at."""
    return {"escalated": True}


def approve(state: dict[str, Any]) -> dict[str, Any]:
    """Approve the item and count approvals."""
    counts = dict(state.get("counts") or {})
    counts["approved"] = counts.get("approved", 0) + 1
    return {"approved": True, "counts": counts}


def audit(state: dict[str, Any]) -> dict[str, Any]:
    """Record an audit of an external item."""
    return {"audited": True}


def archive(state: dict[str, Any]) -> dict[str, Any]:
    """Archive the approved and audited item."""
    return {"archived": True}


def summarise(state: dict[str, Any], words: int = 3) -> dict[str, Any]:
    """One map copy: the first ``words`` words of its ``doc``, as a one-item list."""
    return {"summaries": [" ".join(str(state["doc"]).split()[:words])]}


def triage(state: dict[str, Any]) -> Any:
    """Choose where to go from the summaries (a Command: the decision is the work)."""
    from wfengine import END, Command

    long = [s for s in state.get("summaries", []) if len(s) > 12]
    return Command(goto="flag" if long else END, update={"long_count": len(long)})


def flag(state: dict[str, Any]) -> dict[str, Any]:
    """Mark the batch for a person to read."""
    return {"flagged": True}


def sample_docs(state: dict[str, Any]) -> dict[str, Any]:
    """The run's ``docs``, or three sample documents when the state gives none."""
    if "docs" in state:
        return {}
    return {
        "docs": [
            "a short note",
            "quarterly figures are well above the forecast",
            "minutes of the weekly meeting",
        ]
    }


def draft_email(state: dict[str, Any]) -> dict[str, Any]:
    """Draft the email the approval example asks a person to approve."""
    customer = state.get("customer", "customer")
    return {"draft": f"Dear {customer}, your refund of {state.get('amount', 20)} EUR is approved."}


def ask_approval(state: dict[str, Any]) -> dict[str, Any]:
    """Pause the run with the draft and a question; on resume the answer comes back here.

    Code before ``interrupt()`` runs again on resume (this function starts over), so nothing
    with a side effect goes before it.
    """
    import wfengine

    answer = wfengine.interrupt(
        {"question": "Send this email? (answer true or false)", "draft": state["draft"]}
    )
    return {"approved": answer is True}


def send_email(state: dict[str, Any]) -> dict[str, Any]:
    """Pretend to send the approved email."""
    return {"sent": state["draft"]}
