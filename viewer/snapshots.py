"""Snapshots of payment records, field-level diffs between them, and a bounded on-disk history (DESIGN §2).

A :class:`Snapshot` is one fetched record (values by JSON name, fetch time, ETag). :func:`diff` compares two records
field by field on JSON names, by the field's schema kind, so that what a text diff would call a change but a user
would not (key order, ``1500`` vs ``1500.00``, ``Z`` vs ``+00:00``, GUID case, a reordered array of lines) is not
reported (ANCHORS §2 items 6-8). :class:`SnapshotStore` keeps a bounded history per payment in SQLite so "changed since
you last viewed it" survives a restart.

No Qt here on purpose: the store runs in worker threads (``asyncio.to_thread``) and the tests need no QApplication.
The schema module is imported lazily, inside :func:`diff`, because it formats values with QtCore; the store and the
value classes stay importable without Qt.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from viewer import jsondata, odata, paths, refs

__all__ = [
    "ETAG",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Change",
    "ChangeSet",
    "Snapshot",
    "SnapshotKey",
    "SnapshotStore",
    "default_path",
    "diff",
]

log = logging.getLogger(__name__)

ETAG = odata.ETAG
FILE_NAME = "history.sqlite3"

# ---- value classes ---------------------------------------------------------------------------------------------


def _server_identity(host: str) -> str:
    """``host`` without its port: the port is how this run reaches the server, not which server it is.

    The sandbox binds a new loopback port at every start (and a dev container may be republished on another), so a
    key with the port would never match the previous run's snapshots. Cloud payments are identified by tenant and
    environment anyway; an on-prem server by its host name, server instance and tenant (kept in ``tenant``)."""
    host = host.lower()
    if host.startswith("["):  # IPv6 literal: "[::1]:7048" -> "[::1]"
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


@dataclass(frozen=True)
class SnapshotKey:
    """Which payment a snapshot belongs to: what identifies it in Business Central — the server (host name without
    port; see :func:`_server_identity`), the tenant (cloud) or server instance and tenant (on-prem), the environment,
    the company id and the payment id. The journal is not part of it, because the same payment is reachable with and
    without its journal in the URL."""

    host: str
    tenant: str
    environment: str
    company_id: str
    payment_id: str

    @classmethod
    def from_url(cls, url: str) -> SnapshotKey | None:
        """The key of the payment ``url`` names, or None when it does not name both a company id and a payment id."""
        try:
            ref = refs.parse(url)
        except refs.RefError:
            return None
        return cls.from_ref(ref)

    @classmethod
    def from_ref(cls, ref: refs.PaymentRef) -> SnapshotKey | None:
        """Same as :meth:`from_url` for an already parsed reference."""
        if ref.company_id is None or ref.payment_id is None:
            return None
        endpoint = ref.endpoint
        host = _server_identity(endpoint.base.split("://", 1)[-1])
        if endpoint.kind == "onprem":
            tenant = endpoint.instance or ""
            if endpoint.tenant:
                tenant += f"?tenant={endpoint.tenant}"
            environment = ""
        else:
            tenant = endpoint.tenant or ""
            environment = endpoint.environment or ""
        return cls(host, tenant, environment, ref.company_id, ref.payment_id)


@dataclass(frozen=True)
class Snapshot:
    key: SnapshotKey
    fetched_at: datetime
    etag: str | None
    values: dict[str, Any]
    api_version: str = "v2.0"
    id: int | None = None

    @classmethod
    def from_record(
        cls, key: SnapshotKey, record: Mapping[str, Any], *, fetched_at: datetime | None = None,
        api_version: str = "v2.0",
    ) -> Snapshot:
        """A snapshot of a record as received: the ETag taken from ``@odata.etag``, every annotation dropped."""
        etag = record.get(ETAG)
        return cls(
            key=key,
            fetched_at=_utc(fetched_at) if fetched_at is not None else datetime.now(UTC),
            etag=etag if isinstance(etag, str) else None,
            values=_strip_annotations(record),
            api_version=api_version,
        )


@dataclass(frozen=True)
class Change:
    name: str
    old: Any
    new: Any
    kind: str


@dataclass(frozen=True)
class ChangeSet:
    """Field changes between two records; the ETag, when it changed, is one more Change named ``@odata.etag``."""

    changes: tuple[Change, ...] = ()
    since: datetime | None = None

    def __bool__(self) -> bool:
        # An ETag-only change (BC bumps it on any write, even one that changed nothing visible) is not worth a
        # "changed" highlight; callers that care ask etag_changed.
        return any(change.name != ETAG for change in self.changes)

    @property
    def etag_changed(self) -> bool:
        return any(change.name == ETAG for change in self.changes)

    def names(self) -> set[str]:
        return {change.name for change in self.changes if change.name != ETAG}

    def get(self, name: str) -> Change | None:
        return next((change for change in self.changes if change.name == name), None)

    def as_text(self, labels: Mapping[str, str] | None = None) -> str:
        """One "Label: old → new" line per change, for "copy a diff as text"."""
        labels = labels or {}
        lines = []
        for change in self.changes:
            label = labels.get(change.name) or ("ETag" if change.name == ETAG else change.name)
            lines.append(f"{label}: {_show(change.old)} → {_show(change.new)}")
        return "\n".join(lines)


def _show(value: Any) -> str:
    # Words rather than JSON for the two "nothing" cases, so a pasted diff reads naturally in a mail.
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value if value else "(empty)"
    if isinstance(value, Decimal):
        return str(value)
    try:
        return jsondata.dumps(value)
    except (TypeError, ValueError):
        return str(value)


# ---- diff ------------------------------------------------------------------------------------------------------


def _strip_annotations(record: Mapping[str, Any]) -> dict[str, Any]:
    return odata.strip(record)  # the one rule for annotations (viewer/odata.py)


def diff(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    *,
    entity: str = "customerPayment",
    api_version: str = "v2.0",
    old_etag: str | None = None,
    new_etag: str | None = None,
    since: datetime | None = None,
    stripped: bool = False,
) -> ChangeSet:
    """Field-level changes from ``old`` to ``new`` (JSON names; key order irrelevant; annotations ignored).

    A field missing on one side counts as null there, so a field that appears with a blank value is no change.
    Values are compared by the field's schema kind (see :func:`_same`). Changes come in schema order, then fields
    the schema does not know in ``new``'s order, then fields only ``old`` had. The ETag counts as changed only when
    both are known and differ: an unknown ETag says nothing about the record. ``stripped``: both sides are known to
    hold no annotations (two loaded records' values, viewer/loading.py), so they are not stripped again.
    """
    from viewer import schema  # lazily: schema imports QtCore for formatting (module docstring)

    old_data = old if stripped else _strip_annotations(old)
    new_data = new if stripped else _strip_annotations(new)
    specs = schema.fields_for(entity, api_version)
    known = [spec.name for spec in specs]
    known_set = set(known)
    order = [name for name in known if name in old_data or name in new_data]
    order += [name for name in new_data if name not in known_set]
    order += [name for name in old_data if name not in known_set and name not in new_data]
    changes: list[Change] = []
    for name in order:
        kind: str = schema.spec_for(entity, api_version, name).kind
        before, after = old_data.get(name), new_data.get(name)
        if not _same(kind, before, after, schema.is_blank):
            changes.append(Change(name, before, after, kind))
    if old_etag is not None and new_etag is not None and old_etag != new_etag:
        changes.append(Change(ETAG, old_etag, new_etag, "text"))
    return ChangeSet(tuple(changes), since)


def _same(kind: str, a: Any, b: Any, is_blank: Callable[[Any, object], bool]) -> bool:
    """Whether two raw values of one field show the same thing to the user."""
    if jsondata.same_json(a, b):
        return True  # the same value (most fields of a refresh): the rules below would say so, several times slower
    blank_a, blank_b = is_blank(kind, a), is_blank(kind, b)
    if blank_a or blank_b:
        if not (blank_a and blank_b):
            return False
        # Two spellings of BC's blank ("0001-01-01T00:00:00Z" / "…00.000Z") are equal in every kind. Null against a
        # blank string is equal only for text: for a typed field null means "no value sent", which is worth seeing.
        return kind == "text" or (a is None) == (b is None)
    if kind in ("decimal", "int"):
        da, db = _to_decimal(a), _to_decimal(b)
        if da is not None and db is not None:
            return da == db
    elif kind == "datetime":
        ta, tb = _parse_utc(a), _parse_utc(b)
        if ta is not None and tb is not None:
            return ta == tb
    elif kind == "guid" and isinstance(a, str) and isinstance(b, str):
        return _guid(a) == _guid(b)
    elif kind == "date" and isinstance(a, str) and isinstance(b, str):
        return a.strip() == b.strip()
    return bool(_canon(a) == _canon(b))


def _to_decimal(raw: Any) -> Decimal | None:
    # Decimal(str(x)), never float ==: 0.1 + 0.2 style noise must not decide whether an amount changed.
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        return None
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?")


def _parse_utc(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or not _ISO_DATETIME.fullmatch(raw.strip()):
        return None
    # fromisoformat takes at most 6 fractional digits; .NET servers send 7. Sub-microsecond noise is no change.
    text = re.sub(r"(\.\d{6})\d+", r"\1", raw.strip())
    try:
        moment = datetime.fromisoformat(text)
        # BC always sends UTC; a value without an offset is UTC, not local time.
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _guid(text: str) -> str:
    return text.strip().strip("{}").strip().lower()


def _is_keyed(item: Any) -> bool:
    return isinstance(item, dict) and ("id" in item or "code" in item)


def _canon(value: Any) -> Any:
    """A hashable form in which structurally equal JSON values are equal: dict key order is gone, numbers compare
    by value (but never equal a boolean), and a list whose elements all carry an "id" or "code" is a multiset, so
    moving a line is not a change (ANCHORS §2 item 6)."""
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float | Decimal):
        number = _to_decimal(value)
        return ("num", number) if number is not None else ("num?", repr(value))
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, Mapping):
        return ("obj", frozenset((str(k), _canon(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        items = [_canon(item) for item in value]
        if items and all(_is_keyed(item) for item in value):
            return ("bag", frozenset(Counter(items).items()))
        return ("list", tuple(items))
    return ("other", repr(value))


# ---- store -----------------------------------------------------------------------------------------------------

_V1_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    host TEXT NOT NULL,
    tenant TEXT NOT NULL,
    environment TEXT NOT NULL,
    company_id TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    api_version TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    etag TEXT,
    values_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS snapshots_by_key
    ON snapshots (host, tenant, environment, company_id, payment_id, fetched_at);
"""


def _migrate_0_to_1(conn: sqlite3.Connection) -> None:
    # A new (empty) file: the first schema. IF NOT EXISTS so a version-0 file that somehow has the table survives.
    for statement in _V1_SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    # last_seen_at: when an identical record was last fetched. Duplicates are not stored, so without it the history
    # could not tell "unchanged since Monday, last checked today" from "not looked at since Monday".
    conn.execute("ALTER TABLE snapshots ADD COLUMN last_seen_at TEXT")
    conn.execute("UPDATE snapshots SET last_seen_at = fetched_at")


def _migrate_2_to_3(conn: sqlite3.Connection) -> None:
    # Keys no longer carry the port (SnapshotKey): rows written under "127.0.0.1:36445" by an earlier sandbox run join
    # the payment's history under "127.0.0.1", so "since your previous visit" works across restarts.
    for (host,) in conn.execute("SELECT DISTINCT host FROM snapshots").fetchall():
        identity = _server_identity(str(host))
        if identity != host:
            conn.execute("UPDATE snapshots SET host = ? WHERE host = ?", (identity, host))


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    0: _migrate_0_to_1,
    1: _migrate_1_to_2,
    2: _migrate_2_to_3,
}
SCHEMA_VERSION = max(MIGRATIONS) + 1

_COLUMNS = "id, host, tenant, environment, company_id, payment_id, api_version, fetched_at, etag, values_json"
_KEY_WHERE = "host = ? AND tenant = ? AND environment = ? AND company_id = ? AND payment_id = ?"
_SIZE = "LENGTH(CAST(values_json AS BLOB)) + COALESCE(LENGTH(CAST(etag AS BLOB)), 0)"
_LOCK_TIMEOUT = 1.0

_NOTICE_MEMORY = "History is kept in memory for this session only."
_NOTICE_BAD_ROWS = ("Some saved history could not be read and is skipped; it is kept in the history file for "
                    "inspection (see the log).")


class _TooNew(Exception):
    pass


def default_path() -> Path:
    return paths.local_data_dir() / FILE_NAME


def _utc(moment: datetime) -> datetime:
    # A naive time is taken as UTC (what the client records), never as local time.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _stamp(moment: datetime) -> str:
    # Fixed-width ISO text, so SQL string comparison orders and compares times correctly.
    return _utc(moment).isoformat(timespec="microseconds")


def _key_args(key: SnapshotKey) -> tuple[str, str, str, str, str]:
    return (key.host, key.tenant, key.environment, key.company_id, key.payment_id)


def _json_default(value: Any) -> Any:
    # Decimals are written by jsondata.dumps as JSON numbers with their exact digits; this covers the rest.
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _dump(values: Mapping[str, Any]) -> str:
    return jsondata.dumps(values, default=_json_default)


class _BadRow(Exception):
    """A stored row this version cannot read (hand-edited, damaged, or written by a buggy build)."""


def _row_to_snapshot(row: tuple[Any, ...]) -> Snapshot:
    sid, host, tenant, environment, company_id, payment_id, api_version, fetched_at, etag, values_json = row
    try:
        # jsondata: exact decimals back, and a damaged row cannot blow the stack or smuggle NaN in.
        values = jsondata.loads(values_json)
        moment = _utc(datetime.fromisoformat(fetched_at))
    except (ValueError, TypeError) as exc:  # BadJson is a ValueError
        raise _BadRow(f"history entry {sid} cannot be read ({type(exc).__name__})") from None
    if not isinstance(values, dict):
        raise _BadRow(f"history entry {sid} holds no record")
    return Snapshot(
        key=SnapshotKey(host, tenant, environment, company_id, payment_id),
        fetched_at=moment,
        etag=etag if isinstance(etag, str) else None,
        values=values,
        api_version=api_version if isinstance(api_version, str) else "v2.0",
        id=sid,
    )


def _connect(target: str | Path) -> sqlite3.Connection:
    # One connection shared by worker threads, serialised by the store's lock; autocommit so that transactions are
    # explicit (BEGIN … COMMIT) and migrations are all-or-nothing.
    conn = sqlite3.connect(target, timeout=_LOCK_TIMEOUT, check_same_thread=False, isolation_level=None)
    # Deleted history ("Forget history", pruning) is overwritten, not just unlinked from the b-tree.
    conn.execute("PRAGMA secure_delete = ON")
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if found > SCHEMA_VERSION:
        raise _TooNew(found)
    if found == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for version in range(found, SCHEMA_VERSION):
            MIGRATIONS[version](conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


class SnapshotStore:
    """Bounded snapshot history per payment, in one SQLite file (0600 in a 0700 directory).

    Never raises for storage trouble: a corrupt file is moved aside and replaced, a locked, newer or unopenable one
    leaves the store in memory for the session, and ``notice`` says so in plain words. Thread-safe.
    """

    def __init__(
        self, path: Path | None = None, *, max_per_payment: int = 50, max_total_bytes: int = 20_000_000,
        enabled: bool = True,
    ) -> None:
        self.notice: str | None = None
        self._told: set[str] = set()
        self._bad_rows: set[int] = set()
        self.max_per_payment = max(1, max_per_payment)
        self.max_total_bytes = max_total_bytes
        self._path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._on_disk = False
        # This run's latest snapshot per key while history is off, so "since last refresh" still works.
        self._run_latest: dict[SnapshotKey, Snapshot] = {}
        self._enabled = enabled
        # Which payments have a snapshot from before a moment (hashes of their keys), once indexed: a first visit to
        # a payment that has none needs no read at all. Replaced whole, so reading it needs no lock (GUI thread).
        self._earlier: tuple[datetime, frozenset[int]] | None = None
        # A file opens now (its notice is wanted at once); a store in memory opens when first used — the app makes
        # one as a stand-in until the file is open (ui/changes.py), on the GUI thread, where no SQLite may run.
        if enabled and path is not None:
            with self._lock:
                self._open()

    # -- state --

    @property
    def persistent(self) -> bool:
        return self._conn is not None and self._on_disk

    @property
    def enabled(self) -> bool:
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        with self._lock:
            self._enabled = value
            self._earlier = None  # what "before" can see has changed with it
            if value and self._conn is None:
                self._open()

    # -- opening --

    def _open(self) -> None:
        """Opens self._path (or memory); sets ``notice`` when it had to fall back. Caller holds the lock."""
        if self._path is None:
            self._use_memory(None)
            return
        try:
            self._conn = self._open_file(self._path)
            self._on_disk = True
        except _TooNew:
            self._use_memory(
                "The history file was written by a newer version of this app. It was left untouched. " + _NOTICE_MEMORY
            )
        except sqlite3.OperationalError as err:
            # Locked by another process, or the file cannot be opened: either way, not ours to touch.
            if "locked" in str(err).lower() or "busy" in str(err).lower():
                self._use_memory("The history file is in use by another program. " + _NOTICE_MEMORY)
            else:
                self._use_memory(f"The history file could not be opened ({err}). " + _NOTICE_MEMORY)
        except sqlite3.DatabaseError as err:
            # "file is not a database" / "malformed": keep the bytes for a post-mortem, start afresh.
            log.warning("history file %s is damaged: %s", self._path, err)
            self._replace_corrupt(self._path)
        except OSError as err:
            self._use_memory(f"The history folder is not writable ({err.strerror or err}). " + _NOTICE_MEMORY)

    @staticmethod
    def _open_file(path: Path) -> sqlite3.Connection:
        # Created 0600 before SQLite sees it, so the history is never readable by others, not even briefly;
        # SQLite gives its journal the database file's mode.
        paths.private_file(path)
        conn = _connect(path)
        try:
            _migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _replace_corrupt(self, path: Path) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = path.with_name(f"{path.name}.corrupt-{stamp}")
        counter = 1
        while aside.exists():
            aside = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
            counter += 1
        try:
            path.replace(aside)
            # A leftover journal would be "rolled back" into the fresh file; it belongs to the damaged one.
            journal = path.with_name(path.name + "-journal")
            if journal.exists():
                journal.replace(aside.with_name(aside.name + "-journal"))
            self._conn = self._open_file(path)
            self._on_disk = True
            self.notice = f"The history file was damaged. It was moved aside as {aside.name} and a new one started."
        except (OSError, sqlite3.Error, _TooNew) as err:
            self._use_memory(f"The history file is damaged and could not be replaced ({err}). " + _NOTICE_MEMORY)

    def _use_memory(self, notice: str | None) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        self._conn = _connect(":memory:")
        _migrate(self._conn)
        self._on_disk = False
        if notice is not None:
            self.notice = notice
            log.warning("%s", notice)

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._open()
        assert self._conn is not None  # _open always leaves a connection, on disk or in memory
        return self._conn

    def _guarded(self, action: Callable[[sqlite3.Connection], Any]) -> Any:
        """Runs ``action``; a storage error mid-session (disk full, lock held too long) moves the store to memory and
        retries there, so the viewer keeps working. Caller holds the lock."""
        try:
            return action(self._db())
        except sqlite3.Error as err:
            if not self._on_disk:
                raise
            log.warning("history storage failed: %s", err)
            self._use_memory(f"The history file stopped working ({err}). " + _NOTICE_MEMORY)
            return action(self._db())

    # -- queries --

    def add(self, snap: Snapshot) -> Snapshot:
        """Stores ``snap`` (annotations dropped) and returns it with its id; an unchanged record is not stored twice,
        the latest one is returned instead (its last-seen time updated)."""
        snap = replace(snap, fetched_at=_utc(snap.fetched_at), values=_strip_annotations(snap.values))
        with self._lock:
            if not self._enabled:
                self._run_latest[snap.key] = snap
                return snap
            result: Snapshot = self._guarded(lambda conn: self._add(conn, snap))
            return result

    def _add(self, conn: sqlite3.Connection, snap: Snapshot) -> Snapshot:
        values_json = _dump(snap.values)
        conn.execute("BEGIN IMMEDIATE")
        try:
            latest = self._latest(conn, snap.key)
            if (
                latest is not None
                and latest.etag == snap.etag
                and latest.api_version == snap.api_version
                and latest.values == jsondata.loads(values_json)
            ):
                conn.execute(
                    "UPDATE snapshots SET last_seen_at = MAX(COALESCE(last_seen_at, ''), ?) WHERE id = ?",
                    (_stamp(snap.fetched_at), latest.id),
                )
                conn.execute("COMMIT")
                return latest
            cursor = conn.execute(
                "INSERT INTO snapshots (host, tenant, environment, company_id, payment_id, api_version, fetched_at,"
                " etag, values_json, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*_key_args(snap.key), snap.api_version, _stamp(snap.fetched_at), snap.etag, values_json,
                 _stamp(snap.fetched_at)),
            )
            new_id = cursor.lastrowid
            assert new_id is not None
            self._prune(conn, snap.key, new_id)
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        return replace(snap, id=new_id)

    def _prune(self, conn: sqlite3.Connection, key: SnapshotKey, keep_id: int) -> None:
        conn.execute(
            f"DELETE FROM snapshots WHERE id IN (SELECT id FROM snapshots WHERE {_KEY_WHERE}"
            " ORDER BY fetched_at DESC, id DESC LIMIT -1 OFFSET ?)",
            (*_key_args(key), self.max_per_payment),
        )
        total = int(conn.execute(f"SELECT COALESCE(SUM({_SIZE}), 0) FROM snapshots").fetchone()[0])
        if total <= self.max_total_bytes:
            return
        doomed: list[tuple[int]] = []
        # Oldest first across all payments; the snapshot just added stays, even if it alone is over the limit.
        for sid, size in conn.execute(
            f"SELECT id, {_SIZE} FROM snapshots WHERE id != ? ORDER BY fetched_at, id", (keep_id,)
        ):
            if total <= self.max_total_bytes:
                break
            doomed.append((sid,))
            total -= int(size)
        conn.executemany("DELETE FROM snapshots WHERE id = ?", doomed)

    def _latest(self, conn: sqlite3.Connection, key: SnapshotKey) -> Snapshot | None:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM snapshots WHERE {_KEY_WHERE} ORDER BY fetched_at DESC, id DESC", _key_args(key)
        )
        return self._first(rows)

    def _first(self, rows: Iterable[tuple[Any, ...]]) -> Snapshot | None:
        """The first readable row (bad ones skipped, logged and left in place); stops reading once found."""
        for row in rows:
            snap = self._readable(row)
            if snap is not None:
                return snap
        return None

    def _readable(self, row: tuple[Any, ...]) -> Snapshot | None:
        try:
            return _row_to_snapshot(row)
        except _BadRow as exc:
            if row[0] not in self._bad_rows:
                self._bad_rows.add(row[0])
                log.warning("%s; skipped and kept in the file", exc)
            self._tell(_NOTICE_BAD_ROWS)
            return None

    def _tell(self, notice: str) -> None:
        """Set ``notice`` once per kind of trouble: the user hears about it once, not on every load."""
        if notice not in self._told:
            self._told.add(notice)
            self.notice = notice

    def take_notice(self) -> str | None:
        """The notice not yet shown, once (the caller shows it); ``None`` when there is nothing new."""
        with self._lock:
            notice, self.notice = self.notice, None
            return notice

    def latest(self, key: SnapshotKey) -> Snapshot | None:
        with self._lock:
            if not self._enabled:
                return self._run_latest.get(key)
            result: Snapshot | None = self._guarded(lambda conn: self._latest(conn, key))
            return result

    def before(self, key: SnapshotKey, moment: datetime) -> Snapshot | None:
        """The newest snapshot fetched strictly before ``moment`` (pass the app start time for "the previous visit")."""
        with self._lock:
            if not self._enabled:
                run = self._run_latest.get(key)
                return run if run is not None and run.fetched_at < _utc(moment) else None

            def query(conn: sqlite3.Connection) -> Snapshot | None:
                return self._first(conn.execute(
                    f"SELECT {_COLUMNS} FROM snapshots WHERE {_KEY_WHERE} AND fetched_at < ?"
                    " ORDER BY fetched_at DESC, id DESC",
                    (*_key_args(key), _stamp(moment)),
                ))

            result: Snapshot | None = self._guarded(query)
            return result

    def index_earlier(self, moment: datetime) -> None:
        """Note which payments have a snapshot fetched before ``moment`` (I/O: call it off the GUI thread)."""
        with self._lock:
            if not self._enabled:
                self._earlier = (_utc(moment), frozenset())  # before() sees only this run's snapshots then
                return

            def query(conn: sqlite3.Connection) -> frozenset[int]:
                rows = conn.execute(
                    "SELECT DISTINCT host, tenant, environment, company_id, payment_id FROM snapshots"
                    " WHERE fetched_at < ?", (_stamp(moment),))
                return frozenset(hash(tuple(row)) for row in rows)

            hashes: frozenset[int] | None = self._guarded(query)
            self._earlier = (_utc(moment), hashes) if hashes is not None else None

    def indexed_for(self, moment: datetime) -> bool:
        earlier = self._earlier
        return earlier is not None and earlier[0] == _utc(moment)

    def may_have_before(self, key: SnapshotKey, moment: datetime) -> bool:
        """False only when :meth:`before` is sure to find nothing (no I/O, no lock: safe on the GUI thread);
        True when it may find a snapshot or the store has not been indexed for ``moment``."""
        earlier = self._earlier
        if earlier is None or earlier[0] != _utc(moment):
            return True
        return hash(_key_args(key)) in earlier[1]

    def history(self, key: SnapshotKey, limit: int = 50) -> list[Snapshot]:
        """Snapshots of ``key``, newest first."""
        with self._lock:
            if not self._enabled:
                run = self._run_latest.get(key)
                return [run] if run is not None and limit > 0 else []

            def query(conn: sqlite3.Connection) -> list[Snapshot]:
                rows = conn.execute(
                    f"SELECT {_COLUMNS} FROM snapshots WHERE {_KEY_WHERE} ORDER BY fetched_at DESC, id DESC LIMIT ?",
                    (*_key_args(key), max(0, limit)),
                ).fetchall()
                return [snap for row in rows if (snap := self._readable(row)) is not None]

            result: list[Snapshot] = self._guarded(query)
            return result

    def get(self, snapshot_id: int) -> Snapshot | None:
        with self._lock:
            if not self._enabled:
                return None

            def query(conn: sqlite3.Connection) -> Snapshot | None:
                row = conn.execute(f"SELECT {_COLUMNS} FROM snapshots WHERE id = ?", (snapshot_id,)).fetchone()
                return self._readable(row) if row else None

            result: Snapshot | None = self._guarded(query)
            return result

    def forget(self, key: SnapshotKey | None = None) -> None:
        """Deletes the history of one payment, or all of it ("Forget history"), on disk too even while history is
        off: turning history off must not stop the user from erasing what an earlier session stored."""
        with self._lock:
            if key is None:
                self._run_latest.clear()
            else:
                self._run_latest.pop(key, None)
            if self._earlier is not None:
                gone = frozenset() if key is None else self._earlier[1] - {hash(_key_args(key))}
                self._earlier = (self._earlier[0], gone)
            if self._conn is None and (self._path is None or not self._path.exists()):
                return

            def delete(conn: sqlite3.Connection) -> None:
                if key is None:
                    conn.execute("DELETE FROM snapshots")
                    # Shrinks the file too, so its size no longer hints at what was there.
                    conn.execute("VACUUM")
                else:
                    conn.execute(f"DELETE FROM snapshots WHERE {_KEY_WHERE}", _key_args(key))

            self._guarded(delete)

    def last_seen(self, snapshot_id: int) -> datetime | None:
        """When a record identical to snapshot ``snapshot_id`` was last fetched (its own fetch time if never again)."""
        with self._lock:
            if not self._enabled:
                return None

            def query(conn: sqlite3.Connection) -> datetime | None:
                row = conn.execute(
                    "SELECT COALESCE(last_seen_at, fetched_at) FROM snapshots WHERE id = ?", (snapshot_id,)
                ).fetchone()
                try:
                    return datetime.fromisoformat(row[0]) if row else None
                except (TypeError, ValueError):
                    return None  # a damaged time: unknown, not a crash

            result: datetime | None = self._guarded(query)
            return result

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None
                self._on_disk = False

    def __enter__(self) -> SnapshotStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
