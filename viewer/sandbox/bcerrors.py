"""Business Central shaped error responses, shared by every sandbox route.

Business Central answers errors as ``{"error": {"code": …, "message": "…  CorrelationId:  <guid>."}}``
(SPEC §6.1); the two spaces before and after ``CorrelationId:`` are what the service sends.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from starlette.responses import JSONResponse

BC_RESOURCE = "https://api.businesscentral.dynamics.com"


def correlation_id() -> str:
    return str(uuid.uuid4())


def error_body(code: str, message: str, correlation: str | None = None) -> dict[str, object]:
    cid = correlation or correlation_id()
    text = message.rstrip()
    if not text.endswith("."):
        text += "."
    return {"error": {"code": code, "message": f"{text}  CorrelationId:  {cid}."}}


def bc_error(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A JSON error response exactly as Business Central shapes it, with a fresh correlation id."""
    cid = correlation_id()
    all_headers = {"ms-correlation-x": cid, "request-id": str(uuid.uuid4()), **(headers or {})}
    return JSONResponse(error_body(code, message, cid), status_code=status, headers=all_headers)


def unauthorized(tenant: str, authority_base: str, message: str | None = None) -> JSONResponse:
    """401 with ``WWW-Authenticate`` pointing at the (sandbox) authority, as BC online does."""
    challenge = (
        f'Bearer authorization_uri="{authority_base}/{tenant}/oauth2/authorize", '
        f'resource_id="{BC_RESOURCE}"'
    )
    return bc_error(
        401,
        "Authentication_InvalidCredentials",
        message or "The server has rejected the client credentials.",
        headers={"WWW-Authenticate": challenge},
    )
