"""STUB — to be replaced by the Business Central API routes. Interface is fixed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute

from viewer.sandbox.data import DataStore


@dataclass
class ApiContext:
    base_url: str
    tenant_id: str
    tenant_domain: str
    stores: dict[str, DataStore]
    verify_token: Callable[[str], dict[str, Any]]
    basic_user: str
    basic_password: str
    onprem_instance: str


def api_routes(ctx: ApiContext) -> list[BaseRoute]:
    return []
