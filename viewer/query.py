"""OData ``$filter`` building with escaping: user text never becomes query syntax.

String literals double their single quotes (``O'Brien`` → ``'O''Brien'``), the OData rule; GUIDs,
numbers, dates and booleans are written in their literal forms. Field names are checked, not escaped.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$")

Literal = str | int | Decimal | float | bool | date | datetime | uuid.UUID | None


def literal(value: Literal) -> str:
    """The OData literal for a Python value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return "'" + str(value).replace("'", "''") + "'"


def field_name(name: str) -> str:
    if not _FIELD.match(name):
        raise ValueError(f"not a field name: {name!r}")
    return name


@dataclass(frozen=True)
class Filter:
    """An immutable ``$filter`` expression; combine with ``&`` and ``|``."""

    text: str

    def __and__(self, other: Filter) -> Filter:
        return Filter(f"({self.text}) and ({other.text})")

    def __or__(self, other: Filter) -> Filter:
        return Filter(f"({self.text}) or ({other.text})")

    def __str__(self) -> str:
        return self.text


def _compare(op: str, name: str, value: Literal) -> Filter:
    return Filter(f"{field_name(name)} {op} {literal(value)}")


def eq(name: str, value: Literal) -> Filter:
    return _compare("eq", name, value)


def ne(name: str, value: Literal) -> Filter:
    return _compare("ne", name, value)


def gt(name: str, value: Literal) -> Filter:
    return _compare("gt", name, value)


def ge(name: str, value: Literal) -> Filter:
    return _compare("ge", name, value)


def lt(name: str, value: Literal) -> Filter:
    return _compare("lt", name, value)


def le(name: str, value: Literal) -> Filter:
    return _compare("le", name, value)


def contains(name: str, text: str) -> Filter:
    return Filter(f"contains({field_name(name)},{literal(text)})")


def startswith(name: str, text: str) -> Filter:
    return Filter(f"startswith({field_name(name)},{literal(text)})")
