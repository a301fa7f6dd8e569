from __future__ import annotations

from typing import Any

from wfengine_postgres import PostgresStore


def test_keeps_the_store_contract(postgres_url: str, store_contract: Any) -> None:
    store_contract(lambda: PostgresStore(postgres_url))
