"""The load service: one payment, one load, one typed answer (docs/ARCHITECTURE.md, "The path of one click").

``PaymentService.load(ref)`` fetches the payment through the one HTTP client, diffs it against the last snapshot
(this run's, or the one before this run for "since your previous visit"), hands the new snapshot to the store in the
background (sqlite runs in a worker thread) and returns a single ``Loaded``: the record, its ``ChangeSet`` and how
the comparison was made. Every view of a change (form marks, summary, status bar, screen-reader announcement,
History) reads that one ``ChangeSet``, so their counts agree.

The Qt models await this service and translate its answers into roles; they do no I/O, no diffing and no snapshot
writes of their own. Latest-wins is not here either: ``viewer/tasks.py`` decides which load still matters.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from viewer import jsondata, odata, refs
from viewer.errors import NotFound
from viewer.refs import api_version_of  # one reading of the version, for URLs refs cannot parse (custom APIs)
from viewer.snapshots import ChangeSet, Snapshot, SnapshotKey, SnapshotStore, diff
from viewer.tasks import TaskSet

if TYPE_CHECKING:  # type-only: keeps httpx/msal out of the window's start-up imports
    from viewer.client import BcClient, ResponseFacts

logger = logging.getLogger(__name__)


class ChangeKind(Enum):
    """What a load was compared with."""

    FIRST = "first"  # nothing to compare with: the first time this payment is seen here
    REFRESH = "refresh"  # the previous load in this run
    VISIT = "visit"  # the last snapshot from an earlier run ("since your previous visit")


class Probe(Enum):
    """The watcher's cheap check of a payment."""

    SAME = "same"
    CHANGED = "changed"
    GONE = "gone"


@dataclass(frozen=True)
class Record:
    """One Business Central record as received: ``values`` without annotations, ``received`` exactly as sent."""

    url: str
    values: dict[str, Any]
    etag: str | None
    facts: ResponseFacts
    api_version: str
    ref: refs.PaymentRef | None = None  # parsed once, when the record is a payment
    received: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def fetched_at(self) -> datetime:
        return self.facts.fetched_at

    def as_json(self) -> str:
        """The fields, pretty-printed (what "Copy as JSON" and "Export" write)."""
        return jsondata.dumps(self.values, indent=2)  # exact decimals: the digits the server sent

    def received_json(self) -> str:
        """The body as received, annotations included (the Raw JSON tab)."""
        return jsondata.dumps(self.received or self.values, indent=2)


# The payment's record: the same shape, named for what it holds.
PaymentRecord = Record


@dataclass(frozen=True)
class Loaded:
    """What one payment load gives: the record and what changed, compared with ``kind``'s snapshot."""

    record: Record
    changes: ChangeSet
    kind: ChangeKind
    since: datetime | None = None  # when the compared snapshot was fetched


def _record(url: str, data: dict[str, Any], facts: ResponseFacts, ref: refs.PaymentRef | None) -> Record:
    version = ref.endpoint.api_version if ref is not None else api_version_of(url)
    return Record(url=url, values=odata.strip(data), etag=odata.etag_of(data, facts.etag), facts=facts,
                  api_version=version, ref=ref, received=data)


def _comparable(older: Snapshot, values: dict[str, Any], api_version: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both sides limited to the fields both API versions returned: a field only one version has is no change
    (opening a v2.0 payment again through beta must not report ``journalId`` as changed)."""
    if older.api_version == api_version:
        return older.values, values
    common = older.values.keys() & values.keys()
    return ({k: v for k, v in older.values.items() if k in common},
            {k: v for k, v in values.items() if k in common})


class PaymentService:
    """Loads payments and the records around them. ``client`` and ``store`` are set by the app as it signs in and
    opens the history file; ``started_at`` splits "since the last refresh" from "since your previous visit"."""

    def __init__(self, client: BcClient | None = None, store: SnapshotStore | None = None, *,
                 started_at: datetime | None = None) -> None:
        self.client = client
        self.store = store or SnapshotStore(None)
        self.started_at = started_at or datetime.now(UTC)
        self._last: dict[SnapshotKey, Snapshot] = {}
        self._writes = TaskSet()
        self._to_keep: list[Snapshot] = []  # snapshots to write once the current step is over (_keep_later)
        self._opening: asyncio.Future[None] | None = None  # the history file being opened (open_store)

    def _client(self) -> BcClient:
        if self.client is None:
            from viewer.errors import SignInRequired

            raise SignInRequired("Not signed in: sign in to load payments.")
        return self.client

    # ---- loads --------------------------------------------------------------------------------------

    async def fetch(self, url: str) -> Record:
        """One record, no history (the customer, invoice and journal around a payment)."""
        response = await self._client().get_json(url)
        return _record(url, response.data, response.facts, None)

    async def load(self, target: str | refs.PaymentRef) -> Loaded:
        """The payment ``target`` names, compared with what was seen before. Raises ``ViewerError``."""
        ref, url = self._ref_and_url(target)
        key = SnapshotKey.from_ref(ref) if ref is not None else None
        if key is not None and key not in self._last and (
                self._opening is not None or self.store.may_have_before(key, self.started_at)):
            # The first visit in this run compares with the history file: read it while the request is out. (A
            # payment the store's index knows has no history needs no read: most first visits, once indexed.)
            response, earlier = await asyncio.gather(self._client().get_json(url), self._earlier(key))
            return await self._compare_and_keep(_record(url, response.data, response.facts, ref), [earlier])
        response = await self._client().get_json(url)
        return await self._compare_and_keep(_record(url, response.data, response.facts, ref))

    def _ref_and_url(self, target: str | refs.PaymentRef) -> tuple[refs.PaymentRef | None, str]:
        if isinstance(target, refs.PaymentRef):
            return target, target.url()
        try:
            return refs.parse(target), target
        except refs.RefError:
            return None, target  # still loadable; just no history key

    async def _compare_and_keep(self, record: Record, earlier: list[Snapshot | None] | None = None) -> Loaded:
        """``earlier``: ``[the snapshot before this run]`` when it was read alongside the request (a first visit;
        ``[None]`` when there is none), ``None`` when it has not been read."""
        key = SnapshotKey.from_ref(record.ref) if record.ref is not None else None
        if key is None:
            return Loaded(record, ChangeSet(), ChangeKind.FIRST)
        snap = Snapshot(key=key, fetched_at=record.fetched_at.astimezone(UTC), etag=record.etag,
                        values=dict(record.values), api_version=record.api_version)
        older = self._last.get(key)
        kind = ChangeKind.REFRESH
        if older is None:
            kind = ChangeKind.VISIT
            if earlier is not None:
                older = earlier[0]
            else:
                older = await self._earlier(key)
        self._last[key] = snap
        self._keep_later(snap)
        if older is None:
            return Loaded(record, ChangeSet(), ChangeKind.FIRST)
        old_values, new_values = _comparable(older, snap.values, record.api_version)
        # A refresh compares two records loaded in this run: both stripped already (_record). A snapshot read from
        # the history file is stripped again, whatever wrote it.
        changes = diff(old_values, new_values, api_version=record.api_version, old_etag=older.etag,
                       new_etag=snap.etag, since=older.fetched_at, stripped=kind is ChangeKind.REFRESH)
        return Loaded(record, changes, kind, older.fetched_at)

    async def open_store(self, opener: Callable[[], SnapshotStore]) -> SnapshotStore:
        """Open the history file (``opener``, in a thread) and index it, then use it. A start runs this alongside
        its sign-in: a load meanwhile sends its request at once and waits for the file only to compare and keep."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._opening = done
        try:
            store = await asyncio.to_thread(opener)
            previous, self.store = self.store, store
            previous.close()
            await asyncio.to_thread(self.index_history)
        finally:
            self._opening = None
            done.set_result(None)
        return store

    async def _opened(self) -> None:
        if self._opening is not None:
            await asyncio.shield(self._opening)  # a cancelled load does not cancel the opening

    async def _earlier(self, key: SnapshotKey) -> Snapshot | None:
        """The snapshot of ``key`` from before this run, if the history file has one."""
        await self._opened()
        if not self.store.may_have_before(key, self.started_at):
            return None
        return await asyncio.to_thread(self._before, key)

    def _before(self, key: SnapshotKey) -> Snapshot | None:
        try:
            found = self.store.before(key, self.started_at)
            self.index_history()  # (in this worker thread too) the next first visits then skip their read
            return found
        except Exception as exc:  # history is a convenience: it must never stop a payment from showing
            logger.warning("could not read the history: %s", exc)
            return None

    def index_history(self) -> None:
        """Index which payments have history from earlier runs (I/O: off the GUI thread; the app calls it when it
        opens the history file, and the first read does it otherwise). Once per store state."""
        if not self.store.indexed_for(self.started_at):
            self.store.index_earlier(self.started_at)

    def _keep_later(self, snap: Snapshot) -> None:
        """Write ``snap`` in the background once this step of the loop is over: the form paints first (starting a
        task costs more than the rest of the comparison); the next load compares with ``_last``, not the file."""
        if not self._to_keep:
            # (get_event_loop, as TaskSet.spawn: a step run in qasync's last event pass has no running loop)
            asyncio.get_event_loop().call_soon(self._keep_queued)
        self._to_keep.append(snap)

    def _keep_queued(self) -> None:
        snaps, self._to_keep = self._to_keep, []
        for snap in snaps:
            self._writes.spawn(self._keep(snap))

    async def _keep(self, snap: Snapshot) -> None:
        try:
            await self._opened()
            await asyncio.to_thread(self.store.add, snap)
        except Exception as exc:
            logger.warning("could not store a snapshot: %s", exc)

    async def probe(self, record: Record) -> Probe:
        """Cheap: ``$select=lastModifiedDateTime`` (the ETag comes along). Raises ``ViewerError`` on failure."""
        from viewer.client import RetryPolicy

        try:
            response = await self._client().get_json(
                record.url, params={"$select": "lastModifiedDateTime"},
                retry=RetryPolicy(attempts=1),  # the watcher backs off itself; no client retries on top
            )
        except NotFound:
            return Probe.GONE
        data = response.data
        if (odata.etag_of(data, response.facts.etag) == record.etag
                and data.get("lastModifiedDateTime") == record.values.get("lastModifiedDateTime")):
            return Probe.SAME
        return Probe.CHANGED

    # ---- history ------------------------------------------------------------------------------------

    async def history(self, record: Record | None) -> list[Snapshot]:
        key = SnapshotKey.from_ref(record.ref) if record is not None and record.ref is not None else None
        if key is None:
            return []
        await self.flush()
        await self._opened()
        try:
            return await asyncio.to_thread(self.store.history, key)
        except Exception as exc:
            logger.warning("could not read the history: %s", exc)
            return []

    async def forget(self) -> None:
        await self.flush()
        await self._opened()
        await asyncio.to_thread(self.store.forget, None)
        self._last.clear()

    def take_notice(self) -> str | None:
        """The store's notice not shown yet, once (a skipped history row is not news on every load)."""
        return self.store.take_notice()

    async def flush(self) -> None:
        """Wait for snapshot writes in flight (and the ones queued: _keep_later)."""
        self._keep_queued()
        await self._writes.join()

    async def aclose(self) -> None:
        await self.flush()


__all__ = [
    "ChangeKind",
    "Loaded",
    "PaymentRecord",
    "PaymentService",
    "Probe",
    "Record",
    "api_version_of",
]
