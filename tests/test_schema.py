"""viewer.schema: fields per API version, grouping, blanks and locale formatting (no network, no QApplication)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QDate, QLocale, QTimeZone

from viewer.schema import (
    ENTITIES,
    GROUPS,
    ZERO_GUID,
    FieldSpec,
    Kind,
    describe,
    fields_for,
    format_value,
    is_blank,
    normalize,
    raw_text,
    spec_for,
)

EN, DE, JA = QLocale("en_US"), QLocale("de_DE"), QLocale("ja_JP")
BERLIN = QTimeZone(b"Europe/Berlin")
UTC_TZ = QTimeZone.utc()
KINDS: tuple[Kind, ...] = ("guid", "int", "date", "datetime", "decimal", "text", "bool")

PAYMENT_V2 = {
    "@odata.context": "https://example/$metadata#companies(1)/customerPayments/$entity",
    "@odata.etag": 'W/"JzE5OzEyMzQ1OzAwOyc="',
    "id": "6A2D8B4E-1F11-4C0E-9B57-0D6E2C4B1A01",
    "journalId": "1c0a7f55-6f2c-4a51-8b9c-2a0f4b7e9d10",
    "journalDisplayName": "GENERAL",
    "lineNumber": 10000,
    "customerId": "0b4d7e2a-9a6e-4c1f-8e3d-5f2a1b0c9d8e",
    "customerNumber": "10000",
    "postingDate": "2026-11-25",
    "documentNumber": "G02001",
    "externalDocumentNumber": "",
    "amount": -1234.5,
    "appliesToInvoiceId": ZERO_GUID,
    "appliesToInvoiceNumber": "",
    "description": "Payment for invoice 103001",
    "comment": "",
    "lastModifiedDateTime": "2026-11-25T10:15:00.043Z",
}


def _names(entity: str, version: str) -> list[str]:
    return [spec.name for spec in fields_for(entity, version)]


# ---- schema -------------------------------------------------------------------------------------------------------

def test_payment_v2_has_journal_fields_and_no_contact() -> None:
    names = _names("customerPayment", "v2.0")
    assert names[:3] == ["id", "journalId", "journalDisplayName"]
    assert "contactId" not in names and "dimensions" not in names
    assert names[-1] == "lastModifiedDateTime"


@pytest.mark.parametrize("version", ["v1.0", "beta"])
def test_payment_v1_and_beta_have_contact_and_no_journal_id(version: str) -> None:
    names = _names("customerPayment", version)
    assert "contactId" in names and "dimensions" in names
    assert "journalId" not in names
    assert spec_for("customerPayment", version, "journalDisplayName").max_length is None  # unbounded text var in v1


def test_payment_labels_and_types() -> None:
    labels = {spec.name: spec.label for spec in fields_for("customerPayment", "v2.0")}
    assert labels["postingDate"] == "Posting Date"
    assert labels["customerNumber"] == "Customer No."
    assert labels["documentNumber"] == "Document No."
    assert labels["externalDocumentNumber"] == "External Document No."
    assert labels["appliesToInvoiceNumber"] == "Applies-to Doc. No."
    assert labels["appliesToInvoiceId"] == "Applies-to Invoice Id"
    assert labels["lineNumber"] == "Line No."
    assert labels["id"] == "System Id"
    assert labels["lastModifiedDateTime"] == "Last Modified"
    assert spec_for("customerPayment", "v1.0", "contactId").label == "Contact Id"
    assert spec_for("customerPayment", "v2.0", "description").type_name == "Text[100]"
    assert spec_for("customerPayment", "v2.0", "amount").type_name == "Decimal"
    assert spec_for("customerPayment", "v2.0", "id").type_name == "GUID"
    assert spec_for("customerPayment", "v2.0", "postingDate").type_name == "Date"
    assert spec_for("customerPayment", "v2.0", "lastModifiedDateTime").type_name == "Date/Time"
    assert spec_for("customerPayment", "v2.0", "lineNumber").type_name == "Integer"
    assert spec_for("salesInvoice", "v2.0", "pricesIncludeTax").type_name == "Boolean"
    assert spec_for("salesInvoice", "v2.0", "status").type_name == "Option"


@pytest.mark.parametrize("entity", ENTITIES)
@pytest.mark.parametrize("version", ["v2.0", "v1.0", "beta"])
def test_every_schema_is_well_formed(entity: str, version: str) -> None:
    specs = fields_for(entity, version)
    assert specs[0].name == "id"
    assert len({spec.name for spec in specs}) == len(specs)
    assert all(spec.group in GROUPS and spec.kind in KINDS and spec.label for spec in specs)


def test_version_differences_of_related_entities() -> None:
    assert "timestamp" in _names("company", "v2.0") and "timestamp" not in _names("company", "v1.0")
    assert "postingDate" in _names("salesInvoice", "v2.0") and "postingDate" not in _names("salesInvoice", "beta")
    assert "addressLine1" in _names("customer", "v2.0") and "address" in _names("customer", "v1.0")
    assert _names("customerPaymentJournal", "v2.0") == _names("customerPaymentJournal", "v1.0")


def test_unknown_version_uses_newest_shape_and_unknown_entity_raises() -> None:
    assert fields_for("customerPayment", "v9.9") == fields_for("customerPayment", "v2.0")
    with pytest.raises(ValueError):
        fields_for("vendorPayment", "v2.0")


def test_unknown_field_gets_humanized_label_under_other() -> None:
    spec = spec_for("customerPayment", "v2.0", "someNewField")
    assert spec == FieldSpec("someNewField", "Some New Field", "text", "Other")
    assert spec_for("customerPayment", "v2.0", "contactId").group == "Other"  # not a v2.0 field


# ---- describe / normalize -------------------------------------------------------------------------------------------

def test_describe_groups_in_order_and_skips_annotations() -> None:
    record = {**PAYMENT_V2, "zetaField": 1, "alphaField": "x", "amount@odata.type": "#Decimal"}
    fields = describe("customerPayment", "v2.0", record, EN, tz=UTC_TZ)
    names = [f.spec.name for f in fields]
    assert not any("@" in name for name in names)
    ranks = [GROUPS.index(f.spec.group) for f in fields]
    assert ranks == sorted(ranks)
    assert names[-2:] == ["zetaField", "alphaField"]  # unknown fields in record order, last
    payment = [f.spec.name for f in fields if f.spec.group == "Payment"]
    assert payment == ["lineNumber", "postingDate", "documentNumber", "externalDocumentNumber", "amount",
                       "description", "comment"]
    assert [f.spec.name for f in fields if f.spec.group == "Journal"] == ["journalId", "journalDisplayName"]


def test_describe_omits_schema_fields_missing_from_record() -> None:
    fields = describe("customerPayment", "v2.0", {"id": ZERO_GUID, "amount": 5}, EN)
    assert [f.spec.name for f in fields] == ["amount", "id"]


def test_describe_v1_record_shows_contact_and_dimensions() -> None:
    record = {"id": "a", "journalDisplayName": "GENERAL", "contactId": "", "dimensions": [{"code": "AREA"}]}
    fields = {f.spec.name: f for f in describe("customerPayment", "v1.0", record, EN)}
    assert fields["contactId"].blank and fields["contactId"].spec.group == "Customer"
    assert fields["dimensions"].display == '[{"code": "AREA"}]'


def test_normalize_strips_annotations_and_keeps_values() -> None:
    out = normalize("customerPayment", "v2.0", PAYMENT_V2)
    assert "@odata.etag" not in out and "@odata.context" not in out
    assert out["amount"] == -1234.5 and out["id"] == PAYMENT_V2["id"]
    assert list(out) == [k for k in PAYMENT_V2 if not k.startswith("@")]


# ---- blanks and raw text --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    None, "", "0001-01-01", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z", "0001-01-01T00:00:00.0000000Z",
    ZERO_GUID, ZERO_GUID.upper(), "{00000000-0000-0000-0000-000000000000}", [], "_x0020_",
])
def test_blank_conventions(raw: object) -> None:
    assert is_blank("text", raw)
    field = format_value(FieldSpec("x", "X", "text", "Other"), raw, DE)
    assert field.blank and field.display == "" and field.accessible == "X: blank"


@pytest.mark.parametrize("raw", [0, 0.0, False, "0", " x", "0001-01-02"])
def test_not_blank(raw: object) -> None:
    assert not is_blank("decimal", raw)


def test_blank_date_never_shows_year_one() -> None:
    spec = spec_for("customerPayment", "v2.0", "postingDate")
    for locale in (EN, DE, JA):
        assert format_value(spec, "0001-01-01", locale).display == ""
    dt = spec_for("customerPayment", "v2.0", "lastModifiedDateTime")
    field = format_value(dt, "0001-01-01T00:00:00Z", EN, tz=BERLIN)
    assert field.blank and field.display == "" and field.utc is None


@pytest.mark.parametrize(("raw", "text"), [
    ("abc", "abc"), (1500.5, "1500.5"), (1500, "1500"), (True, "true"), (False, "false"), (None, "null"),
    ([{"code": "Ä"}], '[{"code": "Ä"}]'), (0.1, "0.1"), (Decimal("1500.50"), "1500.50"),
])
def test_raw_text(raw: object, text: str) -> None:
    assert raw_text(raw) == text


# ---- formatting ----------------------------------------------------------------------------------------------------

AMOUNT = FieldSpec("amount", "Amount", "decimal", "Payment")


@pytest.mark.parametrize(("raw", "en", "de", "ja"), [
    (1234.5, "1,234.50", "1.234,50", "1,234.50"),
    (1500, "1,500.00", "1.500,00", "1,500.00"),
    (0.125, "0.125", "0,125", "0.125"),
    (-1234.5, "-1,234.50", "-1.234,50", "-1,234.50"),
    (-0.5, "-0.50", "-0,50", "-0.50"),
    (0, "0.00", "0,00", "0.00"),
    ("172.94", "172.94", "172,94", "172.94"),
    ("1.500", "1.50", "1,50", "1.50"),
    ("12345678901234.567", "12,345,678,901,234.567", "12.345.678.901.234,567", "12,345,678,901,234.567"),
    (Decimal("-7.10"), "-7.10", "-7,10", "-7.10"),
    (0.1 + 0.2, "0.30000000000000004", "0,30000000000000004", "0.30000000000000004"),
])
def test_decimal_formatting(raw: object, en: str, de: str, ja: str) -> None:
    minus = {loc: loc.negativeSign() for loc in (EN, DE, JA)}
    for locale, want in ((EN, en), (DE, de), (JA, ja)):
        field = format_value(AMOUNT, raw, locale)
        assert field.display == want.replace("-", minus[locale])
        assert not field.blank and field.raw is raw


@pytest.mark.parametrize("raw", [True, "abc", "NaN", "Infinity", {"a": 1}, 1e300, "1e999999"])
def test_decimal_unexpected_shows_raw_text(raw: object) -> None:
    assert format_value(AMOUNT, raw, EN).display == raw_text(raw)


def test_decimal_beyond_int64_is_ungrouped_not_wrong() -> None:
    assert format_value(AMOUNT, "3390257625668905206808576.5", DE).display == "3390257625668905206808576,50"


def test_int_is_not_grouped() -> None:
    spec = spec_for("customerPayment", "v2.0", "lineNumber")
    for locale in (EN, DE, JA):
        assert format_value(spec, 10000, locale).display == "10000"
        assert format_value(spec, 10000.0, locale).display == "10000"
    assert format_value(spec, -20000, EN).display == EN.negativeSign() + "20000"
    assert format_value(spec, 1.5, EN).display == "1.5"
    assert format_value(spec, True, EN).display == "true"


def test_date_formatting_uses_locale_short_format_with_full_years() -> None:
    spec = spec_for("customerPayment", "v2.0", "postingDate")
    for locale in (EN, DE, JA):
        short = locale.dateFormat(QLocale.FormatType.ShortFormat)
        want = locale.toString(QDate(2026, 11, 25), short if "yyyy" in short else short.replace("yy", "yyyy"))
        assert format_value(spec, "2026-11-25", locale).display == want
    assert format_value(spec, "2026-11-25", DE).display == "25.11.2026"
    assert format_value(spec, "2026-11-25", JA).display == "2026/11/25"
    assert format_value(spec, "2026-11-25", EN).display == "11/25/2026"


@pytest.mark.parametrize("raw", ["2026-02-30", "25.11.2026", "yesterday", "2026-11-25T10:00:00Z"])
def test_invalid_date_passes_through(raw: str) -> None:
    spec = spec_for("customerPayment", "v2.0", "postingDate")
    field = format_value(spec, raw, EN)
    assert field.display == raw and not field.blank


@pytest.mark.parametrize("raw", ["2026-11-25T10:15:00Z", "2026-11-25T10:15:00.000Z", "2026-11-25T10:15:00.0000000Z",
                                 "2026-11-25T11:15:00+01:00"])
def test_datetime_to_local_time(raw: str) -> None:
    spec = spec_for("customerPayment", "v2.0", "lastModifiedDateTime")
    de = format_value(spec, raw, DE, tz=BERLIN)
    assert de.display == "25.11.2026 11:15"
    assert de.utc == "2026-11-25T10:15:00Z"
    assert format_value(spec, raw, JA, tz=BERLIN).display == "2026/11/25 11:15"
    en = format_value(spec, raw, EN, tz=UTC_TZ).display
    assert en.startswith("11/25/2026 10:15") and en.endswith("AM")


def test_datetime_keeps_milliseconds_in_utc_and_handles_dst() -> None:
    spec = spec_for("customerPayment", "v2.0", "lastModifiedDateTime")
    field = format_value(spec, "2026-07-01T22:30:00.043Z", DE, tz=BERLIN)
    assert field.utc == "2026-07-01T22:30:00.043Z"
    assert field.display == "02.07.2026 00:30"  # CEST, next day
    assert field.raw_text == "2026-07-01T22:30:00.043Z"


@pytest.mark.parametrize("raw", ["not a date", "2026-11-25", "2026-13-01T00:00:00Z", 12, "9999-12-31T23:59:59-05:00"])
def test_bad_datetime_passes_through(raw: object) -> None:
    spec = spec_for("customerPayment", "v2.0", "lastModifiedDateTime")
    field = format_value(spec, raw, EN, tz=BERLIN)
    assert field.display == raw_text(raw) and field.utc is None


def test_datetime_defaults_to_system_time_zone() -> None:
    spec = spec_for("customerPayment", "v2.0", "lastModifiedDateTime")
    field = format_value(spec, "2026-11-25T10:15:00Z", DE)
    assert field.display and field.utc == "2026-11-25T10:15:00Z"


def test_guid_text_bool() -> None:
    guid = spec_for("customerPayment", "v2.0", "id")
    assert format_value(guid, "6A2D8B4E-1F11-4C0E-9B57-0D6E2C4B1A01", EN).display == \
        "6a2d8b4e-1f11-4c0e-9b57-0d6e2c4b1a01"
    text = spec_for("customerPayment", "v2.0", "description")
    assert format_value(text, "  Zahlung Rechnung ", DE).display == "  Zahlung Rechnung "
    flag = spec_for("salesInvoice", "v2.0", "pricesIncludeTax")
    assert format_value(flag, True, DE).display == "Yes"
    assert format_value(flag, False, DE).display == "No"
    assert not format_value(flag, False, DE).blank
    assert format_value(flag, "maybe", DE).display == "maybe"


def test_accessible_text() -> None:
    field = format_value(AMOUNT, 1500, EN)
    assert field.accessible == "Amount: 1,500.00"


# ---- robustness ----------------------------------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.decimals() | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6,
)
_stringy = st.from_regex(
    r"-?\d{1,5}(\.\d{0,9})?|\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?", fullmatch=True
)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(KINDS), raw=_json | _stringy, locale=st.sampled_from([EN, DE, JA]))
def test_format_value_never_raises(kind: Kind, raw: object, locale: QLocale) -> None:
    field = format_value(FieldSpec("x", "X", kind, "Other"), raw, locale, tz=BERLIN)
    assert isinstance(field.display, str) and isinstance(field.raw_text, str)
    assert field.blank == is_blank(kind, raw)
    if field.blank:
        assert field.display == ""
    assert field.accessible.startswith("X: ")


def test_years_are_always_four_digits_and_c_locale_is_iso() -> None:
    spec = spec_for("customerPayment", "v2.0", "postingDate")
    c = QLocale(QLocale.Language.C)
    assert format_value(spec, "2026-11-25", c).display == "2026-11-25"
    stamp = format_value(spec_for("customerPayment", "v2.0", "lastModifiedDateTime"), "2026-11-25T10:15:00Z", c,
                         tz=QTimeZone.utc())
    assert stamp.display == "2026-11-25 10:15"


# ---- options in words ---------------------------------------------------------------------------------------------

def test_options_are_shown_and_described_in_words_never_as_odata_codes() -> None:
    blocked = spec_for("customer", "v2.0", "blocked")
    not_blocked = format_value(blocked, "_x0020_", DE)
    assert (not_blocked.display, not_blocked.blank, not_blocked.description) == ("Not blocked", False, "Not blocked")
    assert not_blocked.raw_text == "_x0020_"  # raw values still show the wire value
    assert not_blocked.accessible == "Blocked: Not blocked"
    invoice = format_value(blocked, "Invoice", DE)
    assert (invoice.display, invoice.description) == ("Invoice", "Invoice")
    status = spec_for("salesInvoice", "v2.0", "status")
    assert format_value(status, "Paid_x0020_in_x0020_Full", DE).description == "Paid in Full"
    blank_status = format_value(status, "_x0020_", DE)
    assert blank_status.blank and blank_status.description == "blank"
    amount = format_value(spec_for("customerPayment", "v2.0", "amount"), 1500, DE)
    assert amount.description == "1500"  # other fields: the raw value
