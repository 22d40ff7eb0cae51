"""Finding a payment without knowing GUIDs: environment → company → journal → payments.

Each level is a model the navigator view shows. Choosing at one level clears everything below it at
once (no view shows the previous selection's data as current) and loads the next level; a newer
choice cancels the older load (latest wins).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QLocale, QObject, Signal

from viewer import query, refs, schema
from viewer.errors import BadId, ViewerError
from viewer.models.lists import RecordListModel
from viewer.models.paged import Column, Formatter, PagedTableModel
from viewer.search_fields import SEARCH_FIELDS
from viewer.tasks import TaskSlot

if TYPE_CHECKING:  # type-only: keeps httpx/msal out of the window's start-up imports
    from viewer.client import ResponseFacts
    from viewer.connection import Connection


logger = logging.getLogger(__name__)

API_VERSION = "v2.0"

PAYMENT_COLUMNS = [
    Column("lineNumber", "Line No.", align_right=True),
    Column("documentNumber", "Document No."),
    Column("postingDate", "Posting Date"),
    Column("customerNumber", "Customer No."),
    Column("amount", "Amount", align_right=True),
    Column("description", "Description"),
]



def schema_formatter(locale: QLocale, api_version: str = API_VERSION) -> Formatter:
    """List cells formatted like the form: locale dates and amounts, Business Central blanks shown blank."""

    def format_cell(field: str, value: Any) -> str:
        return schema.format_value(schema.spec_for("customerPayment", api_version, field), value, locale).display

    return format_cell


def _env_text(item: dict[str, Any]) -> str:
    kind = item.get("type") or ""
    return f"{item.get('name', '')} ({kind})" if kind else str(item.get("name", ""))


class Navigation(QObject):
    """The four levels and the current choice at each. ``failed`` reports any level's error."""

    failed = Signal(object)  # ViewerError
    factsChanged = Signal(object)  # ResponseFacts
    busyChanged = Signal(bool)
    selectionChanged = Signal()

    def __init__(self, *, formatter: Formatter | None = None, page_size: int = 200,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.connection: Connection | None = None
        self.environments = RecordListModel(_env_text, lambda e: str(e.get("name", "")), parent=self)
        self.companies = RecordListModel(
            lambda c: str(c.get("displayName") or c.get("name") or c.get("id")),
            lambda c: str(c.get("id", "")),
            tooltip=lambda c: str(c.get("name", "")),
            parent=self,
        )
        self.journals = RecordListModel(
            lambda j: f"{j.get('code', '')} — {j.get('displayName', '')}".strip(" —"),
            lambda j: str(j.get("id", "")),
            parent=self,
        )
        self.payments = PagedTableModel(
            None, PAYMENT_COLUMNS, page_size=page_size, formatter=formatter or schema_formatter(QLocale()), parent=self
        )
        self.payments.failed.connect(self.failed)
        self.payments.factsChanged.connect(self.factsChanged)
        self.environment: str | None = None
        self.company_id: str | None = None
        self.journal_id: str | None = None
        self.search_field = "documentNumber"
        self.search_text = ""
        self._slots = {name: TaskSlot(name) for name in ("environments", "companies", "journals")}
        self._busy = 0

    # ---- wiring ------------------------------------------------------------------------------

    def set_connection(self, connection: Connection | None) -> None:
        for slot in self._slots.values():
            slot.cancel()
        self.connection = connection
        self.payments.client = connection.client if connection else None
        self.environment = connection.environment if connection else None
        self.company_id = self.journal_id = None
        self.environments.set_items([])
        self._clear_below("environment")

    @property
    def root(self) -> str:
        assert self.connection is not None
        return f"{self.connection.api_root_for(self.environment)}/{API_VERSION}"

    def companies_url(self) -> str:
        return f"{self.root}/companies"

    # Ids below come from list responses: refs.key_segment validates them (BadId) before they reach a path.

    def journals_url(self, company_id: str) -> str:
        return f"{self.root}/{refs.key_segment('companies', company_id, what='company id')}/customerPaymentJournals"

    def payments_url(self, company_id: str, journal_id: str) -> str:
        journal = refs.key_segment("customerPaymentJournals", journal_id, what="journal id")
        return f"{self.root}/{refs.key_segment('companies', company_id, what='company id')}/{journal}/customerPayments"

    def payment_url(self, payment_id: str) -> str | None:
        """The payment's URL, or ``None`` (with ``failed`` emitted when an id is unusable)."""
        if not (self.company_id and self.journal_id):
            return None
        try:
            payment = refs.key_segment("customerPayments", payment_id, what="payment id")
            return f"{self.payments_url(self.company_id, self.journal_id).rsplit('/', 1)[0]}/{payment}"
        except BadId as exc:
            self.failed.emit(exc)
            return None

    # ---- levels --------------------------------------------------------------------------------

    async def load_environments(self) -> list[dict[str, Any]]:
        """The user-level environments list; when it does not answer, the profile's own environment."""
        conn = self.connection
        if conn is None:
            return []
        items: list[dict[str, Any]] = []
        if conn.environments_url:
            try:
                response = await self._run("environments", conn.client.get_json(conn.environments_url))
                # The name goes into the API path (api_root_for): only real environment names are offered.
                items = [e for e in _records(response.data) if refs.is_environment_name(e.get("name"))]
            except ViewerError as exc:
                logger.info("environments list unavailable: %s", exc)
        if conn.environment and not any(e.get("name") == conn.environment for e in items):
            items.insert(0, {"name": conn.environment, "type": ""})
        self.environments.set_items(items)
        return items

    async def select_environment(self, name: str | None) -> None:
        self.environment = name or (self.connection.environment if self.connection else None)
        self._clear_below("environment")
        await self.load_companies()

    async def load_companies(self) -> None:
        if self.connection is None:
            return
        try:
            response = await self._run("companies", self.connection.client.get_json(self.companies_url()))
        except ViewerError as exc:
            self.failed.emit(exc)
            return
        self.factsChanged.emit(response.facts)
        self.companies.set_items(_records(response.data))

    async def select_company(self, company_id: str | None) -> None:
        self.company_id = company_id
        self._clear_below("company")
        if not company_id or self.connection is None:
            return
        try:
            response = await self._run(
                "journals", self.connection.client.get_json(self.journals_url(company_id))
            )
        except ViewerError as exc:
            self.failed.emit(exc)
            return
        if company_id != self.company_id:
            return
        self.factsChanged.emit(response.facts)
        self.journals.set_items(_records(response.data))

    async def select_journal(self, journal_id: str | None) -> None:
        self.journal_id = journal_id
        self._clear_below("journal")
        if not journal_id or not self.company_id:
            return
        await self._reload_payments()

    async def search(self, text: str, field: str | None = None) -> None:
        self.search_text = text.strip()
        if field:
            if field not in SEARCH_FIELDS:
                raise ValueError(f"cannot search in {field!r}")
            self.search_field = field
        if self.company_id and self.journal_id:
            await self._reload_payments()

    def abort(self) -> None:
        """Quitting: interrupt every level's load (the client closes right after)."""
        for slot in self._slots.values():
            slot.abort()
        self.payments.abort()

    def update_payment(self, values: dict[str, Any]) -> None:
        """A payment was (re)loaded: its row in the list shows the same values as the form."""
        self.payments.update_item("id", values)

    def payment_filter(self) -> str | None:
        if not self.search_text:
            return None
        return str(query.contains(self.search_field, self.search_text))

    async def _reload_payments(self) -> None:
        assert self.company_id and self.journal_id
        params: dict[str, str] = {}
        if flt := self.payment_filter():
            params["$filter"] = flt
        if order := self.payments.params.get("$orderby"):
            params["$orderby"] = order
        try:
            url = self.payments_url(self.company_id, self.journal_id)
        except BadId as exc:
            self.failed.emit(exc)
            return
        task = self.payments.load(url, params)
        self.selectionChanged.emit()
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.cancelled():
                raise

    # ---- helpers -------------------------------------------------------------------------------

    def _clear_below(self, level: str) -> None:
        """Empty every level below ``level`` at once, so nothing stale is shown as current."""
        if level == "environment":
            self.company_id = None
            self.companies.set_items([])
        if level in ("environment", "company"):
            self.journal_id = None
            self.journals.set_items([])
        self.payments.clear()
        self.selectionChanged.emit()

    async def _run(self, name: str, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run one level's request in its slot: a newer request for the same level cancels this one."""
        task = self._slots[name].start(coro)
        self._set_busy(+1)
        try:
            return await task
        finally:
            self._set_busy(-1)

    def _set_busy(self, delta: int) -> None:
        before = self._busy > 0
        self._busy = max(0, self._busy + delta)
        if (self._busy > 0) != before:
            self.busyChanged.emit(self._busy > 0)

    @property
    def busy(self) -> bool:
        return self._busy > 0 or self.payments.loading

    def last_facts(self) -> ResponseFacts | None:
        return self.connection.client.last_facts if self.connection else None


def _records(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects of a collection answer; a "value" that is not a list (a hostile or broken server) is none."""
    value = data.get("value")
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
