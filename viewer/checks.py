"""Payment checks: will this payment post, does it settle its invoice, is something about it wrong?

Pure functions, no widgets and no I/O: the inputs are the payment's values, the customer and the invoice it
points at (each loaded, not pointed at, or ``Unavailable`` with the reason), and the other lines of its journal
(``viewer/checking.py`` gathers them). The output is a list of ``Check``s in a fixed order, each with a stable id,
a severity, a one-line message with the numbers in it and an optional detail.

Amounts are exact: every amount goes through ``schema.to_decimal`` (a ``Decimal`` made from the value's text; a
float becomes its shortest repr, which is its ``str()``), so ``10598.48 - 10598.48`` is zero, never ``1e-12``, and
the messages format them like the form does (``schema.format_decimal``: the locale's separators, at least two
places).

The sign rule. A customer payment is a cash-receipt journal line (Gen. Journal Line, Document Type Payment,
Account Type Customer); its ``amount`` is that line's ``Amount`` with Business Central's journal sign: money received
from a customer credits the customer, so a payment is **negative** (-1,500.00 pays 1,500.00 off an invoice). The
docs' v1.0 POST example sends ``"amount": -1500``; their GET examples (and the v2.0 POST one) show ``1500``, samples
that contradict it. Posting enforces the sign: Gen. Jnl.-Check Line (codeunit 11, ``CheckDocType``) calls
``ErrorIfPositiveAmt`` for a customer Payment ("Amount must be negative"). So here a payment settles ``-amount`` of
its invoice, and a positive amount is an error. The sandbox's data follows the same rule (``viewer/sandbox/data.py``).

The amounts of a payment and of the invoice it applies to are compared in the invoice's currency: the API has no
currency on the payment line, and Business Central gives a line the currency of the entry it applies to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any

from PySide6.QtCore import QLocale

from viewer import schema

FUTURE_DAYS = 30  # a posting date further ahead than this is a warning (run_checks(future_days=...))

CHECK_IDS: tuple[str, ...] = (
    "invoiceOpen", "invoiceCustomer", "settlement", "customerBlocked", "postingDate", "documentNumber", "amount",
    "duplicateApplication",
)
TITLES: dict[str, str] = {
    "invoiceOpen": "Invoice open",
    "invoiceCustomer": "Invoice customer",
    "settlement": "Settlement",
    "customerBlocked": "Customer blocked",
    "postingDate": "Posting date",
    "documentNumber": "Document no.",
    "amount": "Amount",
    "duplicateApplication": "Other lines",
}

# Fields the cross-line check reads from the journal's other lines ($select keeps that request small).
LINE_FIELDS: tuple[str, ...] = (
    "id", "lineNumber", "documentNumber", "externalDocumentNumber", "amount", "appliesToInvoiceId",
    "appliesToInvoiceNumber",
)

Record = Mapping[str, Any]


class Severity(Enum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"
    UNKNOWN = "unknown"  # the data to decide is missing or failed to load

    @property
    def rank(self) -> int:
        """For "the worst": an undecided check weighs more than a passed one, less than a warning."""
        return _RANK[self]

    @property
    def word(self) -> str:
        return _WORDS[self]

    @property
    def glyph(self) -> str:
        return _GLYPHS[self]


_RANK = {Severity.OK: 0, Severity.UNKNOWN: 1, Severity.WARNING: 2, Severity.ERROR: 3}
_WORDS = {Severity.OK: "OK", Severity.WARNING: "Warning", Severity.ERROR: "Error", Severity.UNKNOWN: "Unknown"}
_GLYPHS = {Severity.OK: "✔", Severity.WARNING: "⚠", Severity.ERROR: "✖", Severity.UNKNOWN: "?"}


@dataclass(frozen=True)
class Check:
    id: str
    severity: Severity
    message: str
    detail: str = ""

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "severity": self.severity.value, "message": self.message}

    def as_text(self) -> str:
        """One check for a ticket or an email: ``✖ Error · Settlement: …`` and its detail indented below."""
        line = f"{self.severity.glyph} {self.severity.word} · {TITLES.get(self.id, self.id)}: {self.message}"
        return f"{line}\n    {self.detail}" if self.detail else line


@dataclass(frozen=True)
class Unavailable:
    """An input that could not be had, and why; ``not_found`` when the server said it does not exist (404)."""

    reason: str
    not_found: bool = False


@dataclass(frozen=True)
class Inputs:
    """What the checks look at. ``customer``/``invoice``: ``None`` when the payment points at none.

    ``lines``: the journal lines that share the payment's invoice or external document no. (the payment itself may
    be among them; it is skipped by id), ``None`` when they were not asked for.
    """

    payment: Record
    customer: Record | Unavailable | None = None
    invoice: Record | Unavailable | None = None
    lines: Sequence[Record] | Unavailable | None = None


def worst(checks: Sequence[Check]) -> Severity:
    return max((c.severity for c in checks), key=lambda s: s.rank, default=Severity.OK)


def headline(checks: Sequence[Check], *, glyph: bool = True) -> str:
    """The worst severity in words, with counts: "✖ Will not post as is: 2 errors, 1 warning" (the window shows an
    icon instead of the glyph)."""
    text = _headline(checks)
    return text if glyph else text.split(" ", 1)[1]


def _headline(checks: Sequence[Check]) -> str:
    if not checks:
        return "? No checks yet"
    counts = {s: sum(1 for c in checks if c.severity is s) for s in Severity}
    parts = [
        _plural(counts[Severity.ERROR], "error"),
        _plural(counts[Severity.WARNING], "warning"),
        _plural(counts[Severity.UNKNOWN], "unknown", "unknown"),
    ]
    tally = ", ".join(p for p in parts if p)
    top = worst(checks)
    if top is Severity.ERROR:
        return f"{top.glyph} Will not post as is: {tally}"
    if top is Severity.WARNING:
        return f"{top.glyph} Posts, but look first: {tally}"
    if top is Severity.UNKNOWN:
        return f"{top.glyph} Could not check everything: {tally}"
    return f"{top.glyph} All {len(checks)} checks OK"


def checks_text(checks: Sequence[Check]) -> str:
    """Every check as text ("Copy checks"), headline first."""
    return "\n".join([headline(checks), *(c.as_text() for c in checks)]) + "\n"


def run_checks(inputs: Inputs, locale: QLocale, *, today: date | None = None,
               future_days: int = FUTURE_DAYS) -> list[Check]:
    """Every check, in ``CHECK_IDS`` order. Never raises on odd data: what cannot be decided is ``unknown``."""
    ctx = _Context(inputs, locale, today or date.today(), future_days)
    return [
        ctx.invoice_open(),
        ctx.invoice_customer(),
        ctx.settlement(),
        ctx.customer_blocked(),
        ctx.posting_date(),
        ctx.document_number(),
        ctx.amount(),
        ctx.duplicate_application(),
    ]


def applies_to_invoice(payment: Record) -> bool:
    return not (schema.is_blank("guid", payment.get("appliesToInvoiceId"))
                and schema.is_blank("text", payment.get("appliesToInvoiceNumber")))


def external_document_number(payment: Record) -> str:
    value = payment.get("externalDocumentNumber")
    return value.strip() if isinstance(value, str) else ""


def related_lines(payment: Record, lines: Sequence[Record]) -> list[Record]:
    """The lines (other than the payment) that apply to its invoice or carry its external document no.

    The fetch filters on the server too; this filter is the one that counts, so a server that ignores a filter
    (or a page read whole) gives the same answer.
    """
    own = _guid(payment.get("id"))
    ext = external_document_number(payment).casefold()
    applied = applies_to_invoice(payment)
    return [
        line for line in lines
        if _guid(line.get("id")) != own
        and ((applied and _same_invoice(line, payment)) or (ext and external_document_number(line).casefold() == ext))
    ]


# ---- the checks ---------------------------------------------------------------------------------------------------


class _Context:
    def __init__(self, inputs: Inputs, locale: QLocale, today: date, future_days: int) -> None:
        self.inputs = inputs
        self.p = inputs.payment
        self.locale = locale
        self.today = today
        self.future_days = future_days
        self.applied = applies_to_invoice(self.p)
        invoice = inputs.invoice
        self.invoice = invoice if isinstance(invoice, Mapping) else None
        number = self.p.get("appliesToInvoiceNumber") or (self.invoice or {}).get("number") or ""
        self.invoice_name = f"invoice {number}".strip() if number else "the invoice"
        self.currency = str((self.invoice or {}).get("currencyCode") or "").strip()
        self.amount_value = schema.to_decimal(self.p.get("amount"))

    # formatting

    def num(self, value: Decimal) -> str:
        return schema.format_decimal(value, self.locale) or str(value)

    def money(self, value: Decimal) -> str:
        return f"{self.num(value)} {self.currency}".strip()

    def day(self, value: date) -> str:
        spec = schema.spec_for("customerPayment", "v2.0", "postingDate")
        return schema.format_value(spec, value.isoformat(), self.locale).display

    def customer_name(self, number: object, name: object = "") -> str:
        parts = [str(p).strip() for p in (number, name) if isinstance(p, str | int) and str(p).strip()]
        return " ".join(parts) if parts else "(no customer)"

    def invoice_missing(self, check_id: str, what: str) -> Check:
        """The invoice is needed but was not had: unknown, saying why."""
        invoice = self.inputs.invoice
        reason = invoice.reason if isinstance(invoice, Unavailable) else "it was not loaded"
        return Check(check_id, Severity.UNKNOWN, f"{what}: {self.invoice_name} could not be read ({reason})")

    # checks

    def invoice_open(self) -> Check:
        cid = "invoiceOpen"
        if not self.applied:
            return Check(cid, Severity.OK, "not applied: will post as an unapplied payment",
                         "The amount stays open on the customer's account until someone applies it.")
        invoice = self.inputs.invoice
        if isinstance(invoice, Unavailable) and invoice.not_found:
            return Check(cid, Severity.ERROR, f"{self.invoice_name} does not exist",
                         f"Business Central answered: {invoice.reason}")
        if self.invoice is None:
            return self.invoice_missing(cid, "status unknown")
        status = _enum_text(self.invoice.get("status"))
        name = self.invoice_name
        if status == "Open":
            return Check(cid, Severity.OK, f"{name} is Open")
        if status in ("Paid", "Canceled", "Corrective"):
            why = {"Paid": "nothing left to settle", "Canceled": "nothing to settle",
                   "Corrective": "corrected by a credit memo"}[status]
            return Check(cid, Severity.ERROR, f"{name} is {status}: {why}",
                         "Business Central applies a payment only to an open invoice entry.")
        if status in ("Draft", "In Review"):
            return Check(cid, Severity.WARNING, f"{name} is {'a Draft' if status == 'Draft' else status}: "
                         "not posted yet, so there is no entry to apply to")
        return Check(cid, Severity.UNKNOWN, f"{name} has the status {status or '(blank)'!r}")

    def invoice_customer(self) -> Check:
        cid = "invoiceCustomer"
        if not self.applied:
            return Check(cid, Severity.OK, "not applied: no invoice customer to compare")
        if self.invoice is None:
            return self.invoice_missing(cid, "customer not compared")
        inv = self.invoice
        # The invoice's ledger entry is the bill-to customer's (Business Central fills a payment's customer from the
        # bill-to customer too), so that is the one the payment's customer must be; sell-to when there is none.
        bill_to = not schema.is_blank("guid", inv.get("billToCustomerId")) or bool(inv.get("billToCustomerNumber"))
        inv_id = inv.get("billToCustomerId") if bill_to else inv.get("customerId")
        inv_no = inv.get("billToCustomerNumber") if bill_to else inv.get("customerNumber")
        inv_name = (inv.get("billToName") if bill_to else None) or inv.get("customerName") or ""
        pay_id, pay_no = self.p.get("customerId"), self.p.get("customerNumber")
        customer = self.inputs.customer
        pay_name = customer.get("displayName", "") if isinstance(customer, Mapping) else ""
        theirs = self.customer_name(inv_no, inv_name)
        if schema.is_blank("guid", pay_id) and schema.is_blank("text", pay_no):
            return Check(cid, Severity.ERROR, f"the payment has no customer; {self.invoice_name} belongs to {theirs}")
        differ = []
        if not schema.is_blank("guid", pay_id) and not schema.is_blank("guid", inv_id) \
                and _guid(pay_id) != _guid(inv_id):
            differ.append(f"customer id {pay_id} ≠ {inv_id}")
        if str(pay_no or "").strip().casefold() != str(inv_no or "").strip().casefold():
            differ.append(f"customer no. {pay_no or '(blank)'} ≠ {inv_no or '(blank)'}")
        ours = self.customer_name(pay_no, pay_name)
        if differ:
            return Check(cid, Severity.ERROR, f"{self.invoice_name} belongs to {theirs}, not to the payment's "
                         f"customer {ours}", "; ".join(differ))
        return Check(cid, Severity.OK, f"{self.invoice_name} belongs to the payment's customer {ours}")

    def settlement(self) -> Check:
        cid = "settlement"
        amount = self.amount_value
        if amount is None:
            return Check(cid, Severity.UNKNOWN, "the amount is missing or not a number")
        if not self.applied:
            return Check(cid, Severity.OK, "not applied: settles no invoice")
        if self.invoice is None:
            return self.invoice_missing(cid, "settlement unknown")
        remaining = schema.to_decimal(self.invoice.get("remainingAmount"))
        if remaining is None:
            return Check(cid, Severity.UNKNOWN, f"{self.invoice_name} has no remaining amount")
        name = self.invoice_name
        rule = (f"A payment is negative in Business Central: the amount {self.num(amount)} pays "
                f"{self.num(-amount)} off {name}, which has {self.money(remaining)} open.")
        if amount > 0:
            return Check(cid, Severity.ERROR, f"a positive amount ({self.num(amount)}) cannot settle {name}: "
                         "a payment must be negative", rule)
        if amount == 0:
            return Check(cid, Severity.WARNING, f"settles nothing: the amount is {self.num(amount)} and {name} "
                         f"has {self.money(remaining)} open")
        paid = -amount
        if paid == remaining:
            return Check(cid, Severity.OK, f"settles {name} ({self.num(paid)} of {self.money(remaining)})", rule)
        if paid < remaining:
            return Check(cid, Severity.WARNING, f"partial: leaves {self.money(remaining - paid)} open on {name} "
                         f"({self.num(paid)} of {self.num(remaining)})", rule)
        return Check(cid, Severity.WARNING, f"overpays by {self.money(paid - remaining)}: {name} has "
                     f"{self.num(remaining)} open, the payment is {self.num(paid)}",
                     rule + " The rest stays on the customer's account as an unapplied credit.")

    def customer_blocked(self) -> Check:
        cid = "customerBlocked"
        p = self.p
        if schema.is_blank("guid", p.get("customerId")) and schema.is_blank("text", p.get("customerNumber")):
            return Check(cid, Severity.ERROR, "no customer: Business Central does not post a line without an account")
        customer = self.inputs.customer
        number = p.get("customerNumber") or ""
        if not isinstance(customer, Mapping):
            reason = customer.reason if isinstance(customer, Unavailable) else "it was not loaded"
            who = f"customer {number}" if number else "the customer"
            return Check(cid, Severity.UNKNOWN, f"blocked unknown: {who} could not be read ({reason})")
        who = self.customer_name(customer.get("number") or number, customer.get("displayName"))
        blocked = _enum_text(customer.get("blocked"))
        if blocked == "":
            return Check(cid, Severity.OK, f"customer {who} is not blocked")
        if blocked == "All":
            return Check(cid, Severity.ERROR, f"customer {who} is blocked (All): posting the payment will be refused")
        if blocked in ("Ship", "Invoice"):
            what = "shipping" if blocked == "Ship" else "invoicing"
            return Check(cid, Severity.WARNING, f"customer {who} is blocked for {what} ({blocked}): payments still "
                         "post", "Business Central refuses payments only when Blocked is All.")
        return Check(cid, Severity.UNKNOWN, f"customer {who} has the Blocked value {blocked!r}")

    def posting_date(self) -> Check:
        cid = "postingDate"
        raw = self.p.get("postingDate")
        if schema.is_blank("date", raw):
            return Check(cid, Severity.ERROR, "no posting date: Business Central will not post the line")
        when = _date(raw)
        if when is None:
            return Check(cid, Severity.UNKNOWN, f"the posting date {raw!r} is not a date")
        shown = self.day(when)
        ahead = (when - self.today).days
        if ahead > self.future_days:
            return Check(cid, Severity.WARNING, f"posting date {shown} is {ahead} days ahead (more than "
                         f"{self.future_days})")
        if not self.applied:
            return Check(cid, Severity.OK, f"posting date {shown}")
        if self.invoice is None:
            return self.invoice_missing(cid, f"posting date {shown} not compared")
        # v1.0/beta invoices have no postingDate; their document date is the closest there is.
        invoice_day = _date(self.invoice.get("postingDate")) or _date(self.invoice.get("invoiceDate"))
        if invoice_day is not None and when < invoice_day:
            return Check(cid, Severity.WARNING, f"posting date {shown} is before {self.invoice_name}'s posting date "
                         f"{self.day(invoice_day)}")
        return Check(cid, Severity.OK, f"posting date {shown}")

    def document_number(self) -> Check:
        number = self.p.get("documentNumber")
        if schema.is_blank("text", number):
            return Check("documentNumber", Severity.WARNING, "no document number",
                         "The journal's number series fills it when the line is posted, if the batch has one.")
        return Check("documentNumber", Severity.OK, f"document no. {number}")

    def amount(self) -> Check:
        cid = "amount"
        amount = self.amount_value
        if amount is None:
            return Check(cid, Severity.UNKNOWN, f"the amount {self.p.get('amount')!r} is not a number")
        if amount == 0:
            return Check(cid, Severity.ERROR, f"the amount is {self.num(amount)}: there is nothing to post")
        if amount > 0:
            return Check(cid, Severity.ERROR, f"the amount {self.num(amount)} is positive: Business Central refuses "
                         "a customer payment that is not negative", "Posting says \"Amount must be negative\".")
        return Check(cid, Severity.OK, f"payment of {self.money(-amount)} (amount {self.num(amount)})")

    def duplicate_application(self) -> Check:
        cid = "duplicateApplication"
        ext = external_document_number(self.p)
        if not self.applied and not ext:
            return Check(cid, Severity.OK, "nothing to compare: not applied and no external document no.")
        lines = self.inputs.lines
        if lines is None:
            return Check(cid, Severity.UNKNOWN, "the journal's other lines were not read")
        if isinstance(lines, Unavailable):
            return Check(cid, Severity.UNKNOWN, f"the journal's other lines could not be read ({lines.reason})")
        others = related_lines(self.p, lines)
        same_invoice = [line for line in others if self.applied and _same_invoice(line, self.p)]
        same_ext = [line for line in others if ext and external_document_number(line).casefold() == ext.casefold()]
        if not same_invoice and not same_ext:
            subject = [f"applies to {self.invoice_name}" if self.applied else "",
                       f"carries the external document no. {ext}" if ext else ""]
            return Check(cid, Severity.OK, "no other line in the journal " + " or ".join(s for s in subject if s))
        findings: list[tuple[Severity, str]] = []
        if same_invoice:
            findings.append(self._together([self.p, *same_invoice]))
        if same_ext:
            verb = "carries" if len(same_ext) == 1 else "carry"
            findings.append((Severity.WARNING, f"{_line_list(same_ext)} {verb} the same external document no. "
                             f"{ext}: entered twice?"))
        severity = max((s for s, _m in findings), key=lambda s: s.rank)
        detail = "; ".join(self._describe_line(line) for line in _by_line([self.p, *others]))
        return Check(cid, severity, "; ".join(m for _s, m in findings), detail)

    def _together(self, lines: list[Record]) -> tuple[Severity, str]:
        names = _line_list(lines)
        amounts = [schema.to_decimal(line.get("amount")) for line in lines]
        remaining = schema.to_decimal(self.invoice.get("remainingAmount")) if self.invoice is not None else None
        if any(a is None for a in amounts) or remaining is None:
            return Severity.WARNING, f"{names} all apply to {self.invoice_name}"
        paid = -sum((a for a in amounts if a is not None), Decimal(0))
        if paid > remaining:
            return Severity.ERROR, f"{names} together overpay {self.invoice_name} by {self.money(paid - remaining)}"
        if paid == remaining:
            return Severity.WARNING, (f"{names} together settle {self.invoice_name} ({self.num(paid)} of "
                                      f"{self.money(remaining)})")
        return Severity.WARNING, f"{names} together leave {self.money(remaining - paid)} open on {self.invoice_name}"

    def _describe_line(self, line: Record) -> str:
        amount = schema.to_decimal(line.get("amount"))
        parts = [f"line {line.get('lineNumber', '?')}", str(line.get("documentNumber") or "(no document no.)"),
                 self.num(amount) if amount is not None else "(no amount)"]
        if not schema.is_blank("text", line.get("appliesToInvoiceNumber")):
            parts.append(f"invoice {line.get('appliesToInvoiceNumber')}")
        if external_document_number(line):
            parts.append(external_document_number(line))
        return " · ".join(parts)


# ---- helpers --------------------------------------------------------------------------------------------------------


def _enum_text(value: object) -> str:
    """Business Central writes a space in an enum value as ``_x0020_``: "In_x0020_Review"; blank is "_x0020_"."""
    return str(value or "").replace("_x0020_", " ").strip()


def _guid(value: object) -> str:
    return str(value or "").strip().strip("{}").lower()


def _same_invoice(line: Record, payment: Record) -> bool:
    """By id when both have one, else by number."""
    a, b = line.get("appliesToInvoiceId"), payment.get("appliesToInvoiceId")
    if not schema.is_blank("guid", a) and not schema.is_blank("guid", b):
        return _guid(a) == _guid(b)
    x, y = line.get("appliesToInvoiceNumber"), payment.get("appliesToInvoiceNumber")
    return not schema.is_blank("text", x) and str(x).strip().casefold() == str(y or "").strip().casefold()


def _date(raw: object) -> date | None:
    if not isinstance(raw, str) or schema.is_blank("date", raw):
        return None
    try:
        return date.fromisoformat(raw.strip()[:10])
    except ValueError:
        return None


def _by_line(lines: Sequence[Record]) -> list[Record]:
    def key(line: Record) -> tuple[int, str]:
        number = line.get("lineNumber")
        return (number if isinstance(number, int) else 0, str(line.get("id", "")))

    return sorted(lines, key=key)


def _line_list(lines: Sequence[Record]) -> str:
    """"line 30000", "lines 30000 and 70000", "lines 10000, 30000 and 70000"."""
    numbers = [str(line.get("lineNumber", "?")) for line in _by_line(lines)]
    if len(numbers) == 1:
        return f"line {numbers[0]}"
    return f"lines {', '.join(numbers[:-1])} and {numbers[-1]}"


def _plural(count: int, word: str, plural: str | None = None) -> str:
    if count == 0:
        return ""
    return f"{count} {word if count == 1 else (plural or word + 's')}"
