"""Embedding wfengine in an application, with the application's own plugin and no entry points.

    python examples/embed.py

The application registers its tools and observes runs through the same hooks a plugin uses,
builds a graph from a spec (data, not code), and runs it in an engine of its own.
"""

from __future__ import annotations

from typing import Any

from wfengine import Engine, hookimpl


class OrderApp:
    """The application's plugin: two tools and a lifecycle observer."""

    def __init__(self) -> None:
        self.audit: list[str] = []

    @hookimpl
    def wfengine_register_tools(self, registry: Any) -> None:
        registry.register("orders.price", self.price, "Price the order's items")
        registry.register("orders.discount", self.discount, "Take a percentage off")

    @hookimpl
    def wfengine_node_finished(self, node: str, duration: float) -> None:
        self.audit.append(f"{node} took {duration * 1e3:.3f} ms")

    @staticmethod
    def price(state: dict[str, Any]) -> dict[str, Any]:
        return {"total": sum(item["qty"] * item["unit"] for item in state["items"])}

    @staticmethod
    def discount(state: dict[str, Any], percent: float = 10) -> dict[str, Any]:
        return {"total": round(state["total"] * (1 - percent / 100), 2), "discounted": True}


SPEC = {
    "name": "checkout",
    "entry": "price",
    "nodes": {
        "price": {"tool": "orders.price"},
        "discount": {"tool": "orders.discount", "params": {"percent": 15}},
    },
    "edges": [
        {"from": "price", "to": "discount", "when": "total >= 100"},
        {"from": "price", "to": "END", "default": True},
        {"from": "discount", "to": "END"},
    ],
}


def main() -> dict[str, Any]:
    """Run the checkout workflow once and return its final state."""
    app = OrderApp()
    with Engine(plugins=[app], load_entrypoints=False, store="memory://") as engine:
        graph = engine.load_spec(SPEC)
        run = engine.run(graph, {"items": [{"qty": 3, "unit": 40.0}]})
        print(f"status: {run.status.value}, total: {run.state['total']}")
        print("visited:", " -> ".join(run.visited_nodes))
        for line in app.audit:
            print("audit:", line)
        return run.state


if __name__ == "__main__":
    main()
