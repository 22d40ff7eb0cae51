"""The payments list's packed columns (viewer/models/paged.py): every value reads back exactly as it came (same
type, same digits), whatever the packing chosen from a load's first page, and 20,000 rows stay small.

No server: pages are handed to the model as the client would (``_append``), under ``QAbstractItemModelTester``.
"""

from __future__ import annotations

import gc
import tracemalloc
import uuid
from decimal import Decimal
from typing import Any

import qasync
from PySide6.QtCore import Qt
from PySide6.QtTest import QAbstractItemModelTester

from viewer.models.paged import Column, ItemRole, PagedTableModel

FATAL = QAbstractItemModelTester.FailureReportingMode.Fatal
RawRole = Qt.ItemDataRole.UserRole + 1
COLUMNS = [Column("lineNumber", "Line No."), Column("documentNumber", "No."), Column("postingDate", "Date"),
           Column("amount", "Amount", align_right=True), Column("description", "Description")]
FIELDS = ["id", *(c.field for c in COLUMNS)]


def _model() -> tuple[PagedTableModel, QAbstractItemModelTester]:
    model = PagedTableModel(None, COLUMNS, formatter=lambda _f, v: repr(v))
    return model, QAbstractItemModelTester(model, FATAL)


def _guid(n: int) -> str:
    return str(uuid.UUID(int=n * 7919 + 12345))


def _row(n: int, **values: Any) -> dict[str, Any]:
    usual = {"id": _guid(n), "lineNumber": 10000 * (n + 1), "documentNumber": f"G{n:05d}",
             "postingDate": f"2025-0{n % 3 + 1}-01", "amount": Decimal(f"-{n}.{n % 10}0"),
             "description": "Zahlung für Rechnung 1" if n % 2 else "支払い"}
    return {**usual, **values}


def _same(got: Any, want: Any) -> bool:
    """Equal, of the same type and with the same digits (``Decimal("1.50")`` is not ``Decimal("1.5")``)."""
    return type(got) is type(want) and repr(got) == repr(want)


def _assert_reads_back(model: PagedTableModel, rows: list[dict[str, Any]]) -> None:
    assert model.rowCount() == len(rows)
    for r, want in enumerate(rows):
        record = model.record(r)
        assert record is not None and list(record) == FIELDS
        for field in FIELDS:
            assert _same(record[field], want.get(field)), (r, field, record[field], want.get(field))
        assert _same(model.key(r), want["id"])
        assert model.data(model.index(r, 0), ItemRole) == record
        for c, column in enumerate(COLUMNS):
            assert _same(model.data(model.index(r, c), RawRole), want.get(column.field))  # Python to Python
            assert model.index(r, c).data() == repr(want.get(column.field))


def test_usual_values_read_back_exactly(qapp: Any) -> None:
    model, tester = _model()
    first = [_row(n) for n in range(50)]
    more = [_row(n) for n in range(50, 120)]
    model._append(first)
    model._append(more)
    _assert_reads_back(model, first + more)
    # Repeated texts are one object each (dates repeat across a journal).
    dates = [model.record(r)["postingDate"] for r in range(model.rowCount())]  # type: ignore[index]
    assert len({id(date) for date in dates}) == 3
    del tester


def test_values_that_do_not_fit_the_packing_read_back_as_they_came(qapp: Any) -> None:
    """Each field's packing is chosen by the first page; later values of another kind, range or form are kept
    aside as they are: nothing is converted, rounded or lost."""
    model, tester = _model()
    first = [_row(n) for n in range(10)]
    odd = [
        _row(10, id=_guid(10).upper(), amount=Decimal("-0.00")),  # upper-case GUID; a decimal's negative zero
        _row(11, id="not-a-guid", lineNumber=2**70, amount=Decimal("1E+200")),  # beyond 64 bits / the exponent
        _row(12, id=None, lineNumber=True, amount=Decimal("1234567890123456789.5")),  # a bool; 20 digits
        _row(13, lineNumber=None, documentNumber=None, postingDate=None, amount=None, description=None),
        _row(14, lineNumber=1.5, documentNumber=42, postingDate=["a"], amount="n/a", description={"x": 1}),
        _row(15, documentNumber="\ud800 lone surrogate", description="\udfff also"),  # JSON allows them
        _row(16, amount=Decimal("5E+2"), lineNumber=-(2**63)),  # an exponent form; the smallest int64
        {"id": _guid(17)},  # fields missing from the server's answer read as None
    ]
    model._append(first)
    model._append(odd)
    _assert_reads_back(model, first + odd)
    del tester


def test_a_first_page_of_mixed_values_still_reads_back(qapp: Any) -> None:
    model, tester = _model()
    rows = [_row(0, id=1, amount=7), _row(1, id="x", amount=Decimal("2.50")), _row(2, amount=None),
            _row(3, postingDate=None, documentNumber=None)]
    model._append(rows)
    model._append([_row(4), _row(5, id=_guid(4))])  # a repeated key: found first at its first row
    _assert_reads_back(model, [*rows, _row(4), _row(5, id=_guid(4))])
    assert model.update_item("id", {"id": _guid(4), "amount": Decimal("1.00")})
    assert _same(model.record(4)["amount"], Decimal("1.00"))  # type: ignore[index]
    assert _same(model.record(5)["amount"], Decimal("-5.50"))  # type: ignore[index]
    del tester


def test_update_item_finds_the_row_by_its_guid_and_replaces_any_value(qapp: Any) -> None:
    model, tester = _model()
    # The bytes of ``straddling`` are the last half of row 0's GUID and the first half of row 1's: a byte search
    # finds them across the rows' boundary, which is no row.
    a, b = bytes(range(16)), bytes(range(16, 32))
    straddling = str(uuid.UUID(bytes=a[8:] + b[:8]))
    rows = [_row(0, id=str(uuid.UUID(bytes=a))), _row(1, id=str(uuid.UUID(bytes=b))),
            _row(2, id=_guid(2).upper()), _row(3, id=str(uuid.UUID(int=0)))]
    model._append(rows)
    changed: list[tuple[int, int, int]] = []
    model.dataChanged.connect(lambda tl, br, *_: changed.append((tl.row(), tl.column(), br.column())))
    assert not model.update_item("id", {"id": straddling, "amount": Decimal(1)})
    # Row 2's GUID is kept aside (upper case); its packed place holds zero bytes, which is not row 3's GUID.
    assert model.update_item("id", {"id": str(uuid.UUID(int=0)), "description": "found"})
    assert changed == [(3, 4, 4)]
    assert model.update_item("id", {"id": _guid(2).upper(), "documentNumber": "a longer number than before",
                                    "postingDate": "1999-12-31", "lineNumber": None, "amount": "n/a"})
    assert changed[-1] == (2, 0, 3)
    rows[2] |= {"documentNumber": "a longer number than before", "postingDate": "1999-12-31", "lineNumber": None,
                "amount": "n/a"}
    rows[3] |= {"description": "found"}
    _assert_reads_back(model, rows)
    # Back to values the packing holds, of the same length (rewritten in place) and not.
    assert model.update_item("id", {"id": _guid(2).upper(), "documentNumber": "G9", "lineNumber": 5,
                                    "amount": Decimal("0.10")})
    rows[2] |= {"documentNumber": "G9", "lineNumber": 5, "amount": Decimal("0.10")}
    assert model.update_item("id", {"id": rows[0]["id"], "documentNumber": "G99999"})
    rows[0] |= {"documentNumber": "G99999"}
    _assert_reads_back(model, rows)
    del tester


def test_a_new_load_chooses_its_packing_again(qloop: qasync.QEventLoop) -> None:
    # clear() cancels the load's task slot: the app's loop is there, as in the app
    model, tester = _model()
    model._append([_row(n) for n in range(5)])
    model.clear()
    rows = [_row(n, id=n, documentNumber=Decimal(n)) for n in range(5)]  # other kinds this time
    model._append(rows)
    _assert_reads_back(model, rows)
    del tester


def test_20000_rows_cost_under_100_bytes_each(qapp: Any) -> None:
    """The issue's compact rows: a 20,000-row journal, in pages of 200 as the app loads it. The pages are made
    while memory is traced, as the client's parser makes them, so whatever the model keeps of them counts."""
    model, tester = _model()
    del tester  # the tester's own bookkeeping is not the model's
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for start in range(0, 20_000, 200):
            model._append([_row(n, description=f"Payment {n % 3000}") for n in range(start, start + 200)])
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert model.rowCount() == 20_000
    assert model.record(19_999) == _row(19_999, description="Payment 1999")
    assert held / 20_000 < 100, f"{held / 20_000:.0f} bytes a row"
