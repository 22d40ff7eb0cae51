"""Per-field view values of a record (label, display, raw, blank, group), from the field schema."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QLocale


@dataclass(frozen=True)
class FieldView:
    json_name: str
    label: str
    kind: str
    group: str
    value: Any
    display: str
    raw: str
    blank: bool
    accessible: str


def _label(name: str) -> str:
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", name.lstrip("@"))
    return words[:1].upper() + words[1:]


def _raw(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def field_views(
    values: dict[str, Any], api_version: str, locale: QLocale, *, etag: str | None = None
) -> list[FieldView]:
    """One view per field, in the schema's order; unknown fields pass through at the end."""
    out: list[FieldView] = []
    for name, value in values.items():
        raw = _raw(value)
        blank = value in ("", None, "0001-01-01", "00000000-0000-0000-0000-000000000000")
        display = "" if blank else raw
        label = _label(name)
        out.append(FieldView(name, label, "text", "Other", value, display, raw, blank,
                             f"{label}: {display or 'blank'}"))
    if etag:
        out.append(FieldView("@odata.etag", "ETag", "etag", "System", etag, etag, etag, False, f"ETag: {etag}"))
    return out
