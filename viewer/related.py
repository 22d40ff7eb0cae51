"""The records around a payment — its customer, the invoice it applies to, its journal — each loaded lazily
and on its own, so one failing never spoils the payment form or the other two.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QLocale, QObject

from viewer import refs, schema
from viewer.errors import BadId
from viewer.models.payment import LoadState, RecordModel
from viewer.tasks import TaskSlot

if TYPE_CHECKING:
    from viewer.loading import PaymentService, Record

logger = logging.getLogger(__name__)

# kind → (schema entity, entity set in the URL, the key fields shown, the payment field holding the id)
RELATED: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "customer": ("customer", "customers", ("number", "displayName", "balanceDue", "blocked"), "customerId"),
    "invoice": (
        "salesInvoice",
        "salesInvoices",
        ("number", "status", "totalAmountIncludingTax", "remainingAmount", "dueDate"),
        "appliesToInvoiceId",
    ),
    "journal": (
        "customerPaymentJournal",
        "customerPaymentJournals",
        ("code", "displayName", "balancingAccountNumber"),
        "journalId",
    ),
}
TITLES = {"customer": "Customer", "invoice": "Applied invoice", "journal": "Journal"}


def _blank_guid(value: object) -> bool:
    return schema.is_blank("guid", value)


def related_urls(payment: refs.PaymentRef | str, values: Mapping[str, Any]) -> dict[str, str | None]:
    """Where each related record is, or ``None`` when the payment does not point at one (blank id).

    ``payment`` is the payment's parsed reference (a loaded record carries it: no second parse), or its URL."""
    try:
        ref = payment if isinstance(payment, refs.PaymentRef) else refs.parse(payment)
    except refs.RefError:
        return dict.fromkeys(RELATED)
    company = f"companies({ref.company_id})/" if ref.company_id else ""
    company_name = ref.company_name if ref.company_id is None else None
    out: dict[str, str | None] = {}
    for kind, (_entity, entity_set, _fields, id_field) in RELATED.items():
        key = values.get(id_field)
        if kind == "journal" and _blank_guid(key):
            key = ref.journal_id  # v1.0/beta lines have no journalId; the nested URL names the journal
        if _blank_guid(key):
            out[kind] = None
            continue
        try:
            segment = refs.key_segment(entity_set, key, what=id_field)
        except BadId as exc:
            logger.warning("%s", exc)  # a server-sent id never becomes path text; the panel just stays empty
            out[kind] = None
            continue
        out[kind] = refs.api_url(ref.endpoint, f"{company}{segment}", company_name=company_name)
    return out


class Related(QObject):
    """Three record models that follow the payment: ``follow(record)`` after each payment load.

    Each has its own latest-wins slot, so a slow invoice never holds up the customer, and a newer payment's
    customer replaces the older one's before its request goes out.
    """

    def __init__(self, service: PaymentService | None = None, *, locale: QLocale | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.models: dict[str, RecordModel] = {
            kind: RecordModel(service, locale=locale, entity=entity, only=fields, parent=self)
            for kind, (entity, _set, fields, _id) in RELATED.items()
        }
        self.slots = {kind: TaskSlot(f"related:{kind}") for kind in RELATED}
        self.urls: dict[str, str | None] = dict.fromkeys(RELATED)

    @property
    def customer(self) -> RecordModel:
        return self.models["customer"]

    @property
    def invoice(self) -> RecordModel:
        return self.models["invoice"]

    @property
    def journal(self) -> RecordModel:
        return self.models["journal"]

    def follow(self, record: Record | None, *, refresh: bool = False) -> None:
        """Load what the payment points at (each independently); clear what it no longer points at.

        ``refresh=False`` (a watch reload, the same payment again) reloads only records whose id changed.
        """
        urls = (related_urls(record.ref or record.url, record.values) if record is not None
                else dict.fromkeys(RELATED))
        self.urls = urls
        for kind, url in urls.items():
            model = self.models[kind]
            if url is None:
                self.slots[kind].cancel()
                model.clear()
            elif refresh or url != model.url or (model.record is None and model.state != LoadState.LOADING):
                model.load_in(self.slots[kind], url)

    def clear(self) -> None:
        for kind, model in self.models.items():
            self.slots[kind].cancel()
            model.clear()
        self.urls = dict.fromkeys(RELATED)

    def abort(self) -> None:
        """Quitting: interrupt whatever is loading (the client closes right after)."""
        for slot in self.slots.values():
            slot.abort()

    async def wait(self) -> None:
        """Wait for the loads in flight (tests, benchmarks)."""
        for slot in self.slots.values():
            await slot.wait()
