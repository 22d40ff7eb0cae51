"""What an OData annotation is, and the one way to strip it (docs/ARCHITECTURE.md, "One OData module").

Business Central answers with instance annotations (``@odata.context``, ``@odata.etag``, ``@odata.nextLink``) and,
on some fields, property annotations (``amount@odata.type``). They describe the transport, not the payment: the form,
the diff, the snapshots, the copy formats and ``show`` leave them out, and all of them ask this module. The Raw JSON
tab is the one place that shows a body as received, annotations included.

No Qt and no httpx here: the CLI and the snapshot store's worker threads import it too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

ETAG = "@odata.etag"
NEXT_LINK = "@odata.nextLink"


def is_annotation(key: str) -> bool:
    """An instance annotation (``@odata.etag``, ``@Microsoft.NAV.x``) or a property one (``amount@odata.type``).

    Business Central field names are AL identifiers turned camelCase: they never contain "@", so any key with one
    is an annotation.
    """
    return "@" in key


def strip(record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` without annotations at any depth (expanded entities carry their own); order as received."""
    return {str(key): _strip_value(value) for key, value in record.items() if not is_annotation(str(key))}


def _strip_value(value: Any) -> Any:
    if isinstance(value, str | int | float | Decimal) or value is None:  # most values: nothing inside to strip
        return value
    if isinstance(value, Mapping):
        return strip(value)
    if isinstance(value, list | tuple):
        return [_strip_value(item) for item in value]
    return value


def etag_of(record: Mapping[str, Any], header: str | None = None) -> str | None:
    """The record's ETag: its ``@odata.etag`` annotation, else the ``ETag`` response header."""
    value = record.get(ETAG)
    if isinstance(value, str) and value:
        return value
    return header or None



# OData writes characters a name cannot hold as _xHHHH_: Business Central's enum member " " arrives as "_x0020_",
# "Finance Charge Memo" as "Finance_x0020_Charge_x0020_Memo".
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def unescape(name: str) -> str:
    """An OData-escaped name (an enum member) as Business Central shows it: "Paid_x0020_in_x0020_Full" → "Paid in
    Full"."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), name)
