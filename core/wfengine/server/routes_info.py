"""What the engine offers: tools, condition strategies, workflows, plugins; and health."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from ..registry import Registry
from .context import ServerContext, context
from .models import (
    ConditionList,
    Health,
    PluginFailureOut,
    PluginList,
    PluginOut,
    RegistryEntryOut,
    ToolList,
    WorkflowList,
)

router = APIRouter(tags=["engine"])
Ctx = Annotated[ServerContext, Depends(context)]


def _entries(registry: Registry[Any]) -> list[RegistryEntryOut]:
    return [RegistryEntryOut(**entry.to_dict()) for entry in registry.entries()]


@router.get("/health", response_model=Health)
async def health() -> Health:
    """The server is up (the one endpoint that needs no API key)."""
    from ..version import __version__

    return Health(version=__version__)


@router.get("/tools", response_model=ToolList)
async def list_tools(ctx: Ctx) -> ToolList:
    """Registered tools: what spec nodes may name."""
    return ToolList(tools=_entries(ctx.engine.tools))


@router.get("/conditions", response_model=ConditionList)
async def list_conditions(ctx: Ctx) -> ConditionList:
    """Registered condition strategies: what spec edges may name."""
    return ConditionList(conditions=_entries(ctx.engine.conditions))


@router.get("/workflows", response_model=WorkflowList)
async def list_workflows(ctx: Ctx) -> WorkflowList:
    """Registered workflows, runnable by name as a ``graph_id``."""
    return WorkflowList(workflows=_entries(ctx.engine.workflows))


@router.get("/plugins", response_model=PluginList)
async def list_plugins(ctx: Ctx) -> PluginList:
    """Loaded plugins with versions and hooks, and the plugins that failed to load."""
    return PluginList(
        plugins=[PluginOut(**info.to_dict()) for info in ctx.engine.plugins()],
        failures=[PluginFailureOut(**f.to_dict()) for f in ctx.engine.plugin_failures],
    )
