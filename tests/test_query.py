from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from viewer import query


def test_literals() -> None:
    assert query.literal("O'Brien") == "'O''Brien'"
    assert query.literal(None) == "null"
    assert query.literal(True) == "true"
    assert query.literal(Decimal("1500.50")) == "1500.50"
    assert query.literal(date(2024, 1, 31)) == "2024-01-31"
    assert query.literal(datetime(2024, 1, 31, 12, 0, tzinfo=UTC)) == "2024-01-31T12:00:00Z"
    g = uuid.uuid4()
    assert query.literal(g) == str(g)


def test_combinations() -> None:
    f = query.eq("customerNumber", "10000") & query.contains("description", "x'y")
    assert str(f) == "(customerNumber eq '10000') and (contains(description,'x''y'))"


def test_field_names_are_checked() -> None:
    with pytest.raises(ValueError):
        query.eq("amount eq 1 or id", 1)


@given(st.text())
def test_any_text_stays_one_string_literal(text: str) -> None:
    lit = query.literal(text)
    assert lit.startswith("'") and lit.endswith("'")
    inner = lit[1:-1]
    # Every quote inside is doubled, so the literal cannot end early.
    assert inner.replace("''", "").count("'") == 0
    assert inner.replace("''", "'") == text
