"""Field schema per entity and API version, and locale formatting of JSON values (SPEC §1.2, §1.3, §2, §5.6).

The schema mirrors what each API version really returns (the sandbox's ``viewer/sandbox/api.py`` field sets are
built from the same SPEC sections), so the record form can label, group and format every field without asking the
server for ``$metadata``. Anything the schema does not know still shows up, under "Other", with a label derived
from the JSON name: a newer server may add fields and the viewer must not hide them.

Formatting never raises: a value of an unexpected type is shown as its JSON text, because a read-mostly viewer
is more useful showing odd data verbatim than failing on it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal, NamedTuple

from PySide6.QtCore import QDate, QDateTime, QLocale, QTime, QTimeZone

from viewer import jsondata

Kind = Literal["guid", "int", "date", "datetime", "decimal", "text", "bool"]

GROUPS: tuple[str, ...] = ("Payment", "Customer", "Applies to", "Journal", "System", "Other")
ZERO_GUID = "00000000-0000-0000-0000-000000000000"

ENTITIES: tuple[str, ...] = ("customerPayment", "customerPaymentJournal", "company", "customer", "salesInvoice")
API_VERSIONS: tuple[str, ...] = ("v2.0", "v1.0", "beta")

_TYPE_NAMES: dict[str, str] = {
    "guid": "GUID", "int": "Integer", "date": "Date", "datetime": "Date/Time", "decimal": "Decimal",
    "text": "Text", "bool": "Boolean",
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: Kind
    group: str
    max_length: int | None = None
    # Overrides type_name where the JSON kind hides the BC type (enums are strings on the wire, but the tooltip
    # should say "Option"; int64 timestamps are "BigInteger"; complex values are "Collection"/"Complex").
    type_hint: str | None = None
    # An option's blank member (" ", sent as "_x0020_") in words, e.g. Blocked → "Not blocked"; None: a blank.
    blank_word: str | None = None

    @property
    def is_option(self) -> bool:
        return self.type_hint == _OPTION

    @property
    def type_name(self) -> str:
        if self.type_hint is not None:
            return self.type_hint
        if self.kind == "text" and self.max_length is not None:
            return f"Text[{self.max_length}]"
        return _TYPE_NAMES[self.kind]


# ---- schema tables ---------------------------------------------------------------------------------------------
# Labels are the captions Business Central shows on the Cash Receipt Journal / card pages, not the JSON names, so a
# user can match the viewer to what they see in the BC client.

def _f(name: str, label: str, kind: Kind, group: str, max_length: int | None = None,
       type_hint: str | None = None, blank_word: str | None = None) -> FieldSpec:
    return FieldSpec(name, label, kind, group, max_length, type_hint, blank_word)


_ID = _f("id", "System Id", "guid", "System")
_LAST_MODIFIED = _f("lastModifiedDateTime", "Last Modified", "datetime", "System")

# customerPayment, in the order the API pages declare them (SPEC §1.2 / §1.3).
_PAY_HEAD = (
    _f("lineNumber", "Line No.", "int", "Payment"),
    _f("customerId", "Customer Id", "guid", "Customer"),
    _f("customerNumber", "Customer No.", "text", "Customer", 20),
)
_PAY_TAIL = (
    _f("postingDate", "Posting Date", "date", "Payment"),
    _f("documentNumber", "Document No.", "text", "Payment", 20),
    _f("externalDocumentNumber", "External Document No.", "text", "Payment", 35),
    _f("amount", "Amount", "decimal", "Payment"),
    _f("appliesToInvoiceId", "Applies-to Invoice Id", "guid", "Applies to"),
    _f("appliesToInvoiceNumber", "Applies-to Doc. No.", "text", "Applies to", 20),
    _f("description", "Description", "text", "Payment", 100),
    _f("comment", "Comment", "text", "Payment", 250),
)
# v2.0 binds journalId/journalDisplayName to the Gen. Journal Line fields "Journal Batch Id"/"Journal Batch Name";
# those are the captions BC shows, so they are used for both versions.
_PAYMENT_V2 = (
    _ID,
    _f("journalId", "Journal Batch Id", "guid", "Journal"),
    _f("journalDisplayName", "Journal Batch Name", "text", "Journal", 10),
    *_PAY_HEAD, *_PAY_TAIL,
    _LAST_MODIFIED,
)
# v1.0/beta: no journalId, an unbounded read-only journalDisplayName, contactId and the dimensions complex value.
_PAYMENT_V1 = (
    _ID,
    _f("journalDisplayName", "Journal Batch Name", "text", "Journal"),
    *_PAY_HEAD,
    _f("contactId", "Contact Id", "text", "Customer", 250),
    *_PAY_TAIL,
    _f("dimensions", "Dimensions", "text", "Other", type_hint="Collection"),
    _LAST_MODIFIED,
)

# customerPaymentJournal is the same in every version (SPEC §2.1); captions of the Gen. Journal Batch table.
_JOURNAL = (
    _ID,
    _f("code", "Name", "text", "Journal", 10),
    _f("displayName", "Description", "text", "Journal", 100),
    _LAST_MODIFIED,
    _f("balancingAccountId", "Bal. Account Id", "guid", "Journal"),
    _f("balancingAccountNumber", "Bal. Account No.", "text", "Journal", 20),
)

# company has no payment-related group; it is environment metadata, so all of it goes under "System" (SPEC §2.2).
_COMPANY_V1 = (
    _ID,
    _f("systemVersion", "System Version", "text", "System"),
    _f("name", "Name", "text", "System", 30),
    _f("displayName", "Display Name", "text", "System", 250),
    _f("businessProfileId", "Business Profile Id", "text", "System", 250),
)
_COMPANY_V2 = (
    _ID,
    _f("systemVersion", "System Version", "text", "System"),
    _f("timestamp", "Timestamp", "int", "System", type_hint="BigInteger"),
    *_COMPANY_V1[2:],
    _f("systemCreatedAt", "Created At", "datetime", "System"),
    _f("systemCreatedBy", "Created By", "guid", "System"),
    _f("systemModifiedAt", "Modified At", "datetime", "System"),
    _f("systemModifiedBy", "Modified By", "guid", "System"),
)

_OPTION = "Option"
_CUSTOMER_IDS = (
    _f("taxLiable", "Tax Liable", "bool", "Customer"),
    _f("taxAreaId", "Tax Area Id", "guid", "Customer"),
    _f("taxAreaDisplayName", "Tax Area", "text", "Customer"),
    _f("taxRegistrationNumber", "VAT Registration No.", "text", "Customer"),
    _f("currencyId", "Currency Id", "guid", "Customer"),
    _f("currencyCode", "Currency Code", "text", "Customer"),
    _f("paymentTermsId", "Payment Terms Id", "guid", "Customer"),
    _f("shipmentMethodId", "Shipment Method Id", "guid", "Customer"),
    _f("paymentMethodId", "Payment Method Id", "guid", "Customer"),
)
_CUSTOMER_V2 = (
    _ID,
    _f("number", "No.", "text", "Customer", 20),
    _f("displayName", "Name", "text", "Customer", 100),
    _f("type", "Type", "text", "Customer", type_hint=_OPTION),
    _f("addressLine1", "Address", "text", "Customer", 100),
    _f("addressLine2", "Address 2", "text", "Customer", 50),
    _f("city", "City", "text", "Customer", 30),
    _f("state", "County", "text", "Customer", 30),
    _f("country", "Country/Region Code", "text", "Customer", 10),
    _f("postalCode", "Post Code", "text", "Customer", 20),
    _f("phoneNumber", "Phone No.", "text", "Customer", 30),
    _f("email", "Email", "text", "Customer", 80),
    _f("website", "Home Page", "text", "Customer", 80),
    _f("salespersonCode", "Salesperson Code", "text", "Customer", 20),
    _f("balanceDue", "Balance Due", "decimal", "Customer"),
    _f("creditLimit", "Credit Limit (LCY)", "decimal", "Customer"),
    *_CUSTOMER_IDS,
    _f("blocked", "Blocked", "text", "Customer", type_hint=_OPTION, blank_word="Not blocked"),
    _LAST_MODIFIED,
)
_CUSTOMER_V1 = (
    _ID,
    *_CUSTOMER_V2[1:4],
    _f("address", "Address", "text", "Customer", type_hint="Complex"),
    *_CUSTOMER_V2[10:13],
    *_CUSTOMER_IDS,
    _f("blocked", "Blocked", "text", "Customer", type_hint=_OPTION, blank_word="Not blocked"),
    _LAST_MODIFIED,
)

# salesInvoice: shown as the document a payment applies to, so invoice fields go under "Applies to" and its
# customer fields under "Customer" (SPEC §2.4). v1.0/beta have no postingDate.
_INVOICE_HEAD = (
    _ID,
    _f("number", "No.", "text", "Applies to", 20),
    _f("externalDocumentNumber", "External Document No.", "text", "Applies to", 35),
    _f("invoiceDate", "Document Date", "date", "Applies to"),
)
_INVOICE_TAIL = (
    _f("dueDate", "Due Date", "date", "Applies to"),
    _f("customerPurchaseOrderReference", "Your Reference", "text", "Applies to", 35),
    _f("customerId", "Customer Id", "guid", "Customer"),
    _f("customerNumber", "Customer No.", "text", "Customer", 20),
    _f("customerName", "Customer Name", "text", "Customer"),
    _f("billToName", "Bill-to Name", "text", "Customer"),
    _f("billToCustomerId", "Bill-to Customer Id", "guid", "Customer"),
    _f("billToCustomerNumber", "Bill-to Customer No.", "text", "Customer", 20),
    _f("currencyId", "Currency Id", "guid", "Applies to"),
    _f("currencyCode", "Currency Code", "text", "Applies to"),
    _f("pricesIncludeTax", "Prices Including VAT", "bool", "Applies to"),
    _f("discountAmount", "Invoice Discount Amount", "decimal", "Applies to"),
    _f("totalAmountExcludingTax", "Total Excl. VAT", "decimal", "Applies to"),
    _f("totalTaxAmount", "Total VAT", "decimal", "Applies to"),
    _f("totalAmountIncludingTax", "Total Incl. VAT", "decimal", "Applies to"),
    _f("remainingAmount", "Remaining Amount", "decimal", "Applies to"),
    _f("status", "Status", "text", "Applies to", type_hint=_OPTION),
    _LAST_MODIFIED,
    _f("phoneNumber", "Phone No.", "text", "Customer"),
    _f("email", "Email", "text", "Customer"),
)
_INVOICE_V2 = (*_INVOICE_HEAD, _f("postingDate", "Posting Date", "date", "Applies to"), *_INVOICE_TAIL)
_INVOICE_V1 = (*_INVOICE_HEAD, *_INVOICE_TAIL)

_SCHEMAS: dict[str, tuple[tuple[FieldSpec, ...], tuple[FieldSpec, ...]]] = {
    # entity: (v2.0 fields, v1.0/beta fields)
    "customerPayment": (_PAYMENT_V2, _PAYMENT_V1),
    "customerPaymentJournal": (_JOURNAL, _JOURNAL),
    "company": (_COMPANY_V2, _COMPANY_V1),
    "customer": (_CUSTOMER_V2, _CUSTOMER_V1),
    "salesInvoice": (_INVOICE_V2, _INVOICE_V1),
}


def fields_for(entity: str, api_version: str) -> tuple[FieldSpec, ...]:
    """The fields ``entity`` has in ``api_version``, in API declaration order.

    v1.0 and beta share one shape (SPEC §1.3). Any other version string gets the v2.0 shape: a future version is
    far likelier to resemble the newest one, and unknown fields still show under "Other".
    Raises ValueError for an entity outside ENTITIES (a programming error, not data).
    """
    try:
        v2, v1 = _SCHEMAS[entity]
    except KeyError:
        raise ValueError(f"unknown entity {entity!r}; expected one of {', '.join(ENTITIES)}") from None
    return v1 if api_version in ("v1.0", "beta") else v2


def humanize(name: str) -> str:
    """``someNewField`` -> ``Some New Field``; ``customerURLId`` -> ``Customer URL Id``; ``a_b`` -> ``A B``."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name.replace("_", " ")).split()
    return " ".join(w[:1].upper() + w[1:] for w in words) or name


def spec_for(entity: str, api_version: str, name: str) -> FieldSpec:
    """The schema's spec for ``name``, or a plain text spec under "Other" for a field the schema does not know."""
    spec = _specs_by_name(entity, api_version).get(name)
    return spec if spec is not None else FieldSpec(name, humanize(name), "text", "Other")


@functools.lru_cache(maxsize=64)  # asked for every field of every load and comparison (snapshots.diff)
def _specs_by_name(entity: str, api_version: str) -> dict[str, FieldSpec]:
    specs: dict[str, FieldSpec] = {}
    for spec in fields_for(entity, api_version):
        specs.setdefault(spec.name, spec)  # the first declaration wins, as the search it replaces did
    return specs


# ---- raw values --------------------------------------------------------------------------------------------------

_BLANK_DATE = "0001-01-01"
# BC writes the blank DateTime as 0001-01-01T00:00:00Z, with or without fractional seconds, sometimes as +00:00.
_BLANK_DATETIME = re.compile(r"0001-01-01T00:00:00(\.0+)?(Z|[+-]00:00)?", re.IGNORECASE)
# OData's encoding of the enum member " " (e.g. customer.blocked when not blocked): BC shows it as an empty cell.
_BLANK_ENUM = "_x0020_"


def is_blank(kind: Kind, raw: object) -> bool:
    """Whether ``raw`` is one of BC's "no value" conventions (SPEC §5.6), which the form shows as empty.

    Checked for every kind, not just the matching one: a blank date arriving in a text field is still blank to
    the user. Numbers are never blank (0 is a real amount), and neither is ``false``.
    """
    if raw is None:
        return True
    if isinstance(raw, str):
        text = raw.strip()
        return (
            text in ("", _BLANK_DATE, _BLANK_ENUM)
            or text.lower() == ZERO_GUID
            or text.strip("{}").lower() == ZERO_GUID
            or _BLANK_DATETIME.fullmatch(text) is not None
        )
    if isinstance(raw, list | dict | tuple):
        return len(raw) == 0
    return False


def raw_text(raw: object) -> str:
    """The value as the JSON text shows it: strings unquoted, numbers/booleans/null/collections as JSON."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, Decimal):  # json.loads(parse_float=Decimal) callers: keep the exact digits, unquoted
        return str(raw)
    try:
        return jsondata.dumps(raw)  # decimals inside lists and objects keep their digits too
    except (TypeError, ValueError, RecursionError):  # circular structures and the like: still never raise
        return str(raw)


# ---- display values ----------------------------------------------------------------------------------------------

class DisplayField(NamedTuple):
    """A value formatted for people (a named tuple for the same reason as viewer/fields.py's FieldView)."""

    spec: FieldSpec
    raw: object
    raw_text: str
    display: str
    blank: bool
    utc: str | None = None

    @property
    def accessible(self) -> str:
        """What a screen reader should say: a blank value is announced as "blank", not as silence."""
        return f"{self.spec.label}: {'blank' if self.blank or not self.display else self.display}"

    @property
    def description(self) -> str:
        """The value's longer description (tooltip, screen reader): the raw value as received — except for an
        option, which is described in words, never as OData's escaped code ("_x0020_")."""
        if self.spec.is_option and isinstance(self.raw, str):
            return self.display or "blank"
        return f"{self.raw_text}\nUTC: {self.utc}" if self.utc else self.raw_text


# Decimal values are formatted from their exact digits, not via float, so 12345678901234.567 keeps its last digit.
# Beyond these bounds the digit string would be silly (or enormous for "1e999999"); such values show as raw text.
_MAX_INT_DIGITS = 30
_MAX_FRACTION_DIGITS = 20


def _localize_digits(text: str, locale: QLocale) -> str:
    zero = locale.zeroDigit()
    if zero == "0" or len(zero) != 1:
        return text
    base = ord(zero)
    return "".join(chr(base + int(c)) if c.isdigit() and c.isascii() else c for c in text)


def to_decimal(raw: object) -> Decimal | None:
    """An amount as an exact ``Decimal`` from its text (a float via its shortest repr, which is its str()), or None."""
    if isinstance(raw, bool):  # bool is an int subclass; true is not an amount
        return None
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, float):
        # repr() is the shortest text that round-trips, i.e. what the JSON said: 1500.5 -> "1500.5", not 1500.4999…
        value = Decimal(repr(raw))
    elif isinstance(raw, str):
        # IEEE754Compatible responses carry decimals as strings (SPEC §5.6: unconfirmed for BC, tolerated anyway).
        try:
            value = Decimal(raw.strip())
        except (InvalidOperation, ValueError):
            return None
    else:
        return None
    return value if value.is_finite() else None


def _group_int(digits: int, locale: QLocale) -> str:
    """The locale's grouping of a non-negative integer (QLocale knows e.g. Indian 2-digit groups)."""
    if digits >= 2**63:  # beyond qlonglong shiboken warns and overflows; ungrouped is better than wrong
        return _localize_digits(str(digits), locale)
    return str(locale.toString(digits))


def format_decimal(raw: object, locale: QLocale) -> str | None:
    value = to_decimal(raw)
    if value is None:
        return None
    # Trailing zeros beyond two places are dropped (1.500 -> "1.50"), real digits kept (0.125 -> "0.125").
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite values only, see to_decimal
    places = max(2, -exponent)
    if places > _MAX_FRACTION_DIGITS or value.adjusted() >= _MAX_INT_DIGITS:
        return None
    fixed = f"{abs(value):.{places}f}"
    int_part, _, frac_part = fixed.partition(".")
    text = _group_int(int(int_part), locale) + locale.decimalPoint() + _localize_digits(frac_part, locale)
    # Sign handled here, not by QLocale, so -0.50 keeps its minus (its integer part is 0).
    return (locale.negativeSign() + text) if value < 0 else text


def _format_int(raw: object, locale: QLocale) -> str | None:
    if isinstance(raw, bool):
        return None
    # 10000.0 or "10000" still mean line 10000; anything else isn't an integer.
    if isinstance(raw, float) and raw.is_integer() and abs(raw) < 2**63:
        raw = int(raw)
    if isinstance(raw, str) and _INT_TEXT.fullmatch(raw):
        raw = int(raw)
    if not isinstance(raw, int):
        return None
    # Integers are never grouped: the ones BC exposes are identifiers/counters (Line No. 10000, timestamp), and BC
    # itself shows Line No. ungrouped; "10,000" would look like an amount and not match the journal page.
    text = _localize_digits(str(abs(raw)), locale)
    return (locale.negativeSign() + text) if raw < 0 else text


def date_format(locale: QLocale) -> str:
    """The locale's short date format with a four-digit year.

    Qt's short formats use two-digit years for many locales ("11/25/26"); in accounting a payment dated 2026
    must not be mistakable for 1926 or for a day number, so the year is always written in full. The C locale
    (a terminal with no LANG) gets ISO dates rather than Qt's odd "d MM yyyy".
    """
    if locale.language() == QLocale.Language.C:
        return "yyyy-MM-dd"
    fmt = str(locale.dateFormat(QLocale.FormatType.ShortFormat))
    if "yyyy" not in fmt:
        fmt = re.sub(r"(?<!y)yy(?!y)", "yyyy", fmt)
    return fmt


def time_format(locale: QLocale) -> str:
    if locale.language() == QLocale.Language.C:
        return "HH:mm"
    return str(locale.timeFormat(QLocale.FormatType.ShortFormat))


# (locale, date format, date-time format) of the locales asked for lately, newest first: working the patterns out
# asks Qt for the locale's formats each time, and every load formats a payment's dates (viewer/fields.py).
_FORMATS: list[tuple[QLocale, str, str]] = []


def _formats(locale: QLocale) -> tuple[str, str]:
    """``date_format(locale)`` and the date-time format built from it, worked out once per locale."""
    for known, date, moment in _FORMATS:
        if known == locale:
            return date, moment
    date = date_format(locale)
    entry = (QLocale(locale), date, f"{date} {time_format(locale)}")
    _FORMATS.insert(0, entry)
    del _FORMATS[4:]
    return entry[1], entry[2]


# Compiled once: these run for every value of a load (re's own cache costs a lookup per call).
_INT_TEXT = re.compile(r"\s*-?\d{1,30}\s*")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?")
_SUB_MICROSECONDS = re.compile(r"(\.\d{6})\d+")


def _format_date(raw: object, locale: QLocale) -> str | None:
    if not isinstance(raw, str) or not _ISO_DATE.fullmatch(raw):
        return None
    date = QDate(int(raw[:4]), int(raw[5:7]), int(raw[8:]))  # (no format string for Qt to parse first)
    if not date.isValid():  # 2026-02-30, year 0
        return None
    return str(locale.toString(date, _formats(locale)[0]))


def _parse_utc(raw: object) -> datetime | None:
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    # Only full ISO date-times: fromisoformat would also take "2026-11-25" or "20261125", which aren't DateTimes.
    if not _ISO_DATETIME.fullmatch(text):
        return None
    # Python 3.11 accepts "Z" but only up to 6 fractional digits; BC sends 3, other servers may send 7.
    if "." in text:
        text = _SUB_MICROSECONDS.sub(r"\1", text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        # BC always sends UTC (SPEC §5.6); a value without offset is taken as UTC rather than as local time.
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):  # e.g. 0001-01-01T00:00:00+01:00 underflows
        return None


def _utc_text(moment: datetime) -> str:
    m = moment  # (an f-string rather than strftime, which consults the C library's locale and time zone)
    base = f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
    # Milliseconds only when present: "…T10:15:00Z" is the common, readable case; BC's resolution is 1 ms.
    return f"{base}.{moment.microsecond // 1000:03d}Z" if moment.microsecond // 1000 else f"{base}Z"


def _format_datetime(moment: datetime, locale: QLocale, tz: QTimeZone | None) -> str | None:
    utc = QDateTime(
        QDate(moment.year, moment.month, moment.day),
        QTime(moment.hour, moment.minute, moment.second, moment.microsecond // 1000),
        QTimeZone.utc(),
    )
    # The system's own zone through the C library (toLocalTime) rather than a QTimeZone built for it on every call:
    # the same wall-clock time, for a fraction of the work.
    local = utc.toTimeZone(tz) if tz is not None and tz.isValid() else utc.toLocalTime()
    if not local.isValid():
        return None
    return str(locale.toString(local, _formats(locale)[1]))


def format_value(spec: FieldSpec, raw: object, locale: QLocale, *, tz: QTimeZone | None = None) -> DisplayField:
    """``raw`` as the form shows it in ``locale``; datetimes in ``tz`` (default: the system time zone).

    Never raises: a value the kind cannot format is displayed as its JSON text.
    """
    text = raw_text(raw)
    if spec.is_option and isinstance(raw, str):
        return _format_option(spec, raw, text)
    if is_blank(spec.kind, raw):
        return DisplayField(spec, raw, text, "", True)
    display: str | None = None
    utc: str | None = None
    try:
        if spec.kind == "decimal":
            display = format_decimal(raw, locale)
        elif spec.kind == "int":
            display = _format_int(raw, locale)
        elif spec.kind == "date":
            display = _format_date(raw, locale)
        elif spec.kind == "datetime":
            moment = _parse_utc(raw)
            if moment is not None:
                display = _format_datetime(moment, locale, tz)
                utc = _utc_text(moment) if display is not None else None
        elif spec.kind == "guid":
            display = raw.lower() if isinstance(raw, str) else None
        elif spec.kind == "bool":
            display = ("Yes" if raw else "No") if isinstance(raw, bool) else None
        elif isinstance(raw, str):
            display = raw
    except Exception:  # last-resort guard for Qt/Decimal surprises: the form must always render
        display, utc = None, None
    return DisplayField(spec, raw, text, text if display is None else display, False, utc)


def _format_option(spec: FieldSpec, raw: str, text: str) -> DisplayField:
    """An enum member in words: the blank member is the spec's word for it (Blocked: "Not blocked") or a blank."""
    from viewer import odata

    words = odata.unescape(raw).strip()
    if words:
        return DisplayField(spec, raw, text, words, False)
    if spec.blank_word is not None:
        return DisplayField(spec, raw, text, spec.blank_word, False)
    return DisplayField(spec, raw, text, "", True)


def normalize(entity: str, api_version: str, record: Mapping[str, object]) -> dict[str, object]:
    """``record`` without ``@odata.*`` annotations, values and key order as received.

    ``entity``/``api_version`` are part of the signature so callers need not care whether a version ever needs
    more than stripping; today nothing else is changed, so a copy-as-JSON or diff shows exactly what BC sent.
    """
    from viewer import odata

    return odata.strip(record)


@functools.lru_cache(maxsize=64)  # asked on every load; the answer never changes
def ordered_fields(entity: str, api_version: str) -> tuple[FieldSpec, ...]:
    """The schema's fields in the form's order: by group (GROUPS order), then schema order within a group."""
    rank = {group: i for i, group in enumerate(GROUPS)}
    indexed = list(enumerate(fields_for(entity, api_version)))
    indexed.sort(key=lambda item: (rank.get(item[1].group, len(GROUPS)), item[0]))
    return tuple(spec for _, spec in indexed)


def describe(
    entity: str, api_version: str, record: Mapping[str, object], locale: QLocale, *, tz: QTimeZone | None = None
) -> list[DisplayField]:
    """Display fields of ``record``: known fields grouped in GROUPS order (schema order within a group), then fields
    the schema does not know, in record order, under "Other". Schema fields missing from the record are left out,
    so the form shows what this server version actually returned."""
    data = normalize(entity, api_version, record)
    return [format_value(spec, data[spec.name], locale, tz=tz) for spec in specs_of(entity, api_version, data)]


def specs_of(entity: str, api_version: str, data: Mapping[str, object]) -> list[FieldSpec]:
    """The specs of ``data``'s fields in the form's order (see describe); ``data`` without annotations."""
    specs = [spec for spec in ordered_fields(entity, api_version) if spec.name in data]
    if len(specs) < len(data):  # fields the schema does not know, in record order, under "Other"
        names = {spec.name for spec in specs}
        specs += [spec_for(entity, api_version, key) for key in data if key not in names]
    return specs
