"""Per-field view values of a record (label, display, raw, blank, group), built from the field schema.

The model rows are these immutable values: comparing two of them tells the model which rows changed.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from PySide6.QtCore import QLocale

from viewer import schema


class FieldView(NamedTuple):
    """One field as the views show it. A named tuple, not a frozen dataclass: a payment builds one per field on
    every load, on the way to its paint, and a frozen dataclass takes ~5x longer to build (README "Performance")."""

    json_name: str
    label: str
    kind: str
    type_name: str
    group: str
    value: Any
    display: str
    raw: str
    blank: bool
    utc: str | None
    accessible: str
    description: str = ""  # the value described for a tooltip or screen reader (options in words); raw if empty

    @property
    def value_description(self) -> str:
        """The tooltip and screen-reader description of the value: raw as received (with UTC for date-times),
        options in words (schema.DisplayField.description)."""
        return self.description or (f"{self.raw}\nUTC: {self.utc}" if self.utc else self.raw)


def field_views(
    values: dict[str, Any], api_version: str, locale: QLocale, *, etag: str | None = None,
    entity: str = "customerPayment",
) -> list[FieldView]:
    """One view per field, grouped and ordered by the schema; unknown fields pass through under "Other".

    ``values``: a loaded record's values, already without annotations (viewer/loading.py strips them once)."""
    out = [
        FieldView(
            json_name=item.spec.name,
            label=item.spec.label,
            kind=item.spec.kind,
            type_name=item.spec.type_name,
            group=item.spec.group,
            value=item.raw,
            display=item.display,
            raw=item.raw_text,
            blank=item.blank,
            utc=item.utc,
            accessible=item.accessible,
            description=item.description,
        )
        for item in schema.describe(entity, api_version, values, locale, stripped=True)
    ]
    if etag:
        out.append(FieldView("@odata.etag", "ETag", "text", "Text", "System", etag, etag, etag, False, None,
                             f"ETag: {etag}"))
    return out
