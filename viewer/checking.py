"""Gathering what the payment checks (``viewer/checks.py``) need, and running them again whenever an input reloads.

- ``gather`` (the terminal, ``show --checks``): the customer, the invoice and the journal's related lines, fetched
  concurrently with the one client; whatever fails becomes ``Unavailable`` with the reason, so it never raises.
- ``PaymentChecks`` (the window): follows the payment model and ``Related``'s customer and invoice models (the same
  loads the form shows, nothing fetched twice), fetches the related journal lines after each payment load (Watch
  included), and emits ``checksChanged`` with fresh checks after every change of any input.

The cross-line check needs the other lines of the same journal that apply to the same invoice or carry the same
external document no. Business Central refuses ``or`` across different fields in ``$filter`` (README, Navigator), so
that is up to two small ``$select``ed requests to the payment's journal, one per field; ``checks.related_lines``
filters the answers again locally, which keeps the result right even where a server ignores a filter.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QLocale, QObject, QTimer, Signal

from viewer import checks, odata, query, refs, schema
from viewer.checks import Check, Inputs, Unavailable
from viewer.errors import NotFound, ViewerError
from viewer.models.payment import LoadState, PaymentRecord, RecordModel
from viewer.related import Related, related_urls
from viewer.tasks import TaskSlot

if TYPE_CHECKING:
    from viewer.client import BcClient

logger = logging.getLogger(__name__)

Record = Mapping[str, Any]
Lines = list[dict[str, Any]] | Unavailable | None


def journal_lines_url(payment: refs.PaymentRef | str, values: Record) -> str | None:
    """The payment's journal's ``customerPayments`` collection, or ``None`` when the journal is not known
    (a v1.0/beta payment opened by the direct route carries no journal id). ``payment``: its parsed reference
    (a loaded record carries it) or its URL. The journal's own URL is the one the form's Journal section loads
    (viewer/related.py builds both, from the response's journalId or the URL's journal)."""
    try:
        ref = payment if isinstance(payment, refs.PaymentRef) else refs.parse(payment)
    except refs.RefError:
        return None
    if ref.company_id is None and ref.company_name is None:
        return None
    journal = related_urls(ref, values)["journal"]
    return f"{journal}/customerPayments" if journal else None


def line_filters(values: Record) -> list[str]:
    """One ``$filter`` per field the cross-line check compares (never ``or`` across fields)."""
    filters: list[str] = []
    invoice_id = values.get("appliesToInvoiceId")
    if not schema.is_blank("guid", invoice_id):
        filters.append(str(query.eq("appliesToInvoiceId", _uuid(invoice_id))))
    elif not schema.is_blank("text", values.get("appliesToInvoiceNumber")):
        filters.append(str(query.eq("appliesToInvoiceNumber", str(values["appliesToInvoiceNumber"]))))
    ext = checks.external_document_number(values)
    if ext:
        filters.append(str(query.eq("externalDocumentNumber", ext)))
    return filters


async def fetch_lines(client: BcClient, payment: refs.PaymentRef | str, values: Record) -> Lines:
    """The journal lines sharing the payment's invoice or external document no.; ``None`` when there is nothing to
    compare, ``Unavailable`` when they could not be read."""
    filters = line_filters(values)
    if not filters:
        return None
    url = journal_lines_url(payment, values)
    if url is None:
        return Unavailable("the payment's journal is not known (open it through its journal to compare lines)")
    found: dict[str, dict[str, Any]] = {}
    try:
        for text in filters:
            params = {"$filter": text, "$select": ",".join(checks.LINE_FIELDS)}
            async for page in client.iter_pages(url, params=params):
                for item in page.items:
                    found.setdefault(str(item.get("id")), odata.strip(item))
    except ViewerError as exc:
        return Unavailable(str(exc))
    return list(found.values())


async def _fetch_record(client: BcClient, url: str | None) -> Record | Unavailable | None:
    if url is None:
        return None
    try:
        response = await client.get_json(url)
    except NotFound as exc:
        return Unavailable(str(exc), not_found=True)
    except ViewerError as exc:
        return Unavailable(str(exc))
    return odata.strip(response.data)


async def gather(client: BcClient, payment: refs.PaymentRef | str, values: Record) -> Inputs:
    """Everything the checks need for one payment, fetched concurrently; never raises a ``ViewerError``."""
    urls = related_urls(payment, values)
    customer, invoice, lines = await asyncio.gather(
        _fetch_record(client, urls["customer"]),
        _fetch_record(client, urls["invoice"]),
        fetch_lines(client, payment, values),
    )
    return Inputs(values, customer=customer, invoice=invoice, lines=lines)


def model_input(model: RecordModel, expected_url: str | None) -> Record | Unavailable | None:
    """A related record model as a check input: its record, or why there is none (yet)."""
    if expected_url is None:
        return None
    if model.url != expected_url:
        return Unavailable("still loading")
    if model.state == LoadState.GONE:
        return Unavailable(str(model.error) if model.error else "not found", not_found=True)
    if model.state == LoadState.FAILED:
        return Unavailable(str(model.error) if model.error else "failed to load")
    if model.record is None or model.record.url != expected_url:
        return Unavailable("still loading")  # nothing yet, or still the previous payment's record on screen
    # A refresh of the same record keeps showing the last good one while it loads, and so do the checks.
    return model.record.values


class PaymentChecks(QObject):
    """The checks of the open payment, kept current: ``checks`` and ``checksChanged(list[Check])``.

    Re-checks when the payment, its customer or its invoice loads, fails or starts loading; fetches the related
    journal lines after every payment load (Watch reloads included), keeping the
    previous lines of the same payment on show until the new ones arrive.
    """

    checksChanged = Signal(list)

    def __init__(self, payment: RecordModel, related: Related, *, locale: QLocale | None = None,
                 today: Callable[[], date] = date.today, future_days: int = checks.FUTURE_DAYS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.payment = payment
        self.related = related
        self.locale = locale or payment.locale
        self.today = today
        self.future_days = future_days
        self.checks: list[Check] = []
        self.lines: Lines = None
        self._lines_for: object = None  # the payment id the lines belong to
        # Latest wins, and an outdated fetch is dropped rather than interrupted (viewer/tasks.py says why): it is one
        # or two small ``$select``ed GETs.
        self._slot = TaskSlot("journal lines")
        # After the payment's values are painted (a zero timer runs after the pending paint), as the related records
        # are: the checks follow the payment a moment later instead of holding up its first paint.
        payment.loaded.connect(lambda record: QTimer.singleShot(0, lambda: self._after_paint(record)))
        # Every other trigger re-checks once, on the next event pass: several signals of one load (state, loaded,
        # related state) make one recomputation, after the paint.
        self._pending = QTimer(self)
        self._pending.setSingleShot(True)
        self._pending.setInterval(0)
        self._pending.timeout.connect(self.recompute)
        payment.stateChanged.connect(lambda _state: self._pending.start())
        for model in (related.customer, related.invoice):
            model.loaded.connect(lambda _record: self._pending.start())
            model.failed.connect(lambda _error: self._pending.start())
            model.stateChanged.connect(lambda _state: self._pending.start())

    def recompute(self) -> list[Check]:
        record = self.payment.record
        if self.payment.showing_other:
            return self.checks  # the previous payment stays on show (dimmed) until the next arrives: its checks too
        if record is None or self.payment.state == LoadState.GONE:
            # A line no longer in the journal (posted or deleted) will not post again: "will it post?" is moot, and
            # the banner says what happened.
            new: list[Check] = []
        else:
            urls = related_urls(record.ref or record.url, record.values)
            same = self._lines_for is not None and self._lines_for == record.values.get("id")
            inputs = Inputs(
                record.values,
                customer=model_input(self.related.customer, urls["customer"]),
                invoice=model_input(self.related.invoice, urls["invoice"]),
                lines=self.lines if same else Unavailable("still loading"),
            )
            new = checks.run_checks(inputs, self.locale, today=self.today(), future_days=self.future_days)
        if new != self.checks:
            self.checks = new
            self.checksChanged.emit(new)
        return new

    async def wait(self) -> None:
        """Wait for the line fetches in flight (tests)."""
        await self._slot.wait()

    async def aclose(self, timeout: float = 5.0) -> None:
        """Quit: drop what is in flight and give it ``timeout`` seconds to end on its own (never interrupted)."""
        self._slot.cancel()
        await self._slot.wait(timeout=timeout)

    def _after_paint(self, record: PaymentRecord) -> None:
        if self.payment.record is record:  # not replaced in the meantime (its successor schedules its own)
            self._payment_loaded(record)

    def _payment_loaded(self, record: PaymentRecord) -> None:
        if self._lines_for != record.values.get("id"):
            self.lines, self._lines_for = None, None
        self._pending.start()  # one recomputation per event pass, with the state change's
        self._slot.start(self._fetch(record), then=lambda lines: self._show_lines(record, lines))

    async def _fetch(self, record: PaymentRecord) -> Lines:
        client = self.payment.service.client
        if client is None:
            return Unavailable("not signed in")
        # A client closed meanwhile (sign-out, quit) answers with a NetworkError, which fetch_lines reports.
        return await fetch_lines(client, record.ref or record.url, record.values)

    def _show_lines(self, record: PaymentRecord, lines: Lines) -> None:
        self.lines, self._lines_for = lines, record.values.get("id")
        self.recompute()


def _uuid(value: object) -> uuid.UUID | str:
    """A GUID literal for the filter (``{…}``, quotes and case as BC may write them), else the text as given."""
    try:
        return uuid.UUID(refs.normalize_guid(str(value)))
    except refs.RefError:
        return str(value)
