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
    """One view per field, grouped and ordered by the schema; unknown fields pass through under "Other": a whole
    record's rows at once (a model builds each row's view when first asked for, viewer/models/payment.py).

    ``values``: a loaded record's values, already without annotations (viewer/loading.py strips them once)."""
    out = [field_view(spec, values[spec.name], locale) for spec in schema.specs_of(entity, api_version, values)]
    if etag:
        out.append(etag_view(etag))
    return out


def field_view(spec: schema.FieldSpec, raw: Any, locale: QLocale) -> FieldView:
    """The view of one field's value ``raw`` in ``locale`` (date-times in the system's time zone)."""
    item = schema.format_value(spec, raw, locale)
    return FieldView(spec.name, spec.label, spec.kind, spec.type_name, spec.group, raw, item.display, item.raw_text,
                     item.blank, item.utc, item.accessible, item.description)


ETAG_NAME = "@odata.etag"


def etag_view(etag: str) -> FieldView:
    """The ETag's row: the record's version as the server named it, shown under "System"."""
    return FieldView(ETAG_NAME, "ETag", "text", "Text", "System", etag, etag, etag, False, None, f"ETag: {etag}")
