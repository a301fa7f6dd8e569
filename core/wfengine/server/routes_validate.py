"""``POST /graph/validate``: check a spec typed as YAML or JSON text, answering where the
first problem is (line and column) instead of refusing the request; stores nothing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from ..errors import SpecError, WorkflowError
from ..spec_yaml import parse_yaml
from .context import ServerContext, context
from .errors import ApiError
from .jsonsafe import jsonable
from .spec_positions import locate

router = APIRouter(tags=["graphs"])
Ctx = Annotated[ServerContext, Depends(context)]


class ValidateRequest(BaseModel):
    """A spec as the text a user typed (YAML, or JSON, which is YAML too)."""

    text: str = Field(max_length=2**20)


class SpecProblem(BaseModel):
    """What is wrong, where in the spec (``nodes.fetch``) and where in the text (1-based)."""

    message: str
    where: str | None = None
    line: int | None = None
    column: int | None = None


class ValidateResult(BaseModel):
    """``valid``, the parsed spec when the text parsed (to draw it even while it is
    invalid), the graph's nodes and edges when it is valid, the first problem otherwise."""

    valid: bool
    spec: dict[str, Any] | None = None
    nodes: list[str] = Field(default_factory=list)
    error: SpecProblem | None = None


@router.post("/graph/validate", response_model=ValidateResult)
def validate_spec(body: ValidateRequest, ctx: Ctx) -> ValidateResult:
    """Validate a spec the way ``POST /graph/create`` does, without storing it."""
    try:
        data = parse_yaml(body.text, None)
    except SpecError as exc:
        return ValidateResult(valid=False, error=_problem(body.text, exc.message, exc.where))
    if not isinstance(data, dict):
        problem = SpecProblem(message="a spec is a mapping (name, entry, nodes, edges)", line=1)
        return ValidateResult(valid=False, error=problem)
    spec = jsonable(data)
    try:
        ctx.limits.check_spec(data)
        graph = ctx.engine.load_spec(ctx.paths.spec(data))
    except SpecError as exc:
        return ValidateResult(
            valid=False, spec=spec, error=_problem(body.text, exc.message, exc.where)
        )
    except ApiError as exc:  # a limit, a path outside the data dir
        where = exc.details.get("where")
        problem = _problem(body.text, str(exc.detail), where if isinstance(where, str) else None)
        return ValidateResult(valid=False, spec=spec, error=problem)
    except (WorkflowError, TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        problem = SpecProblem(message=f"invalid spec: {type(exc).__name__}: {exc}")
        return ValidateResult(valid=False, spec=spec, error=problem)
    return ValidateResult(valid=True, spec=spec, nodes=list(graph.nodes))


def _problem(text: str, message: str, where: str | None) -> SpecProblem:
    position = locate(text, where, message)
    line, column = position if position else (None, None)
    return SpecProblem(message=message, where=where, line=line, column=column)
