"""Typed settings in one INI file, every key declared once, versioned with migrations.

The file is in ``QSettings``' INI dialect but read and written by ``viewer.inifile`` in plain Python, so
the terminal command reads profiles without importing Qt, and the window and the terminal share one file
and one format. Every change is written at once (re-read, merged, replaced atomically), so two processes
lose no one else's keys. Never a secret here: profiles carry none, and ``set_value`` refuses keys that
look like one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from viewer import inifile
from viewer.paths import data_dir, private_file
from viewer.profiles import Profile, ProfileError, profile_from_dict, profile_to_dict

if TYPE_CHECKING:
    from PySide6.QtCore import QByteArray

    from viewer.client import Limits

T = TypeVar("T")

SETTINGS_VERSION = 1
_SECRET_WORDS = re.compile(r"(secret|password|token|access.?key)", re.IGNORECASE)


@dataclass(frozen=True)
class Key(Generic[T]):
    name: str
    default: T
    type: type


# Every key the app uses, declared once (Picard's options.py pattern).
LAST_PROFILE = Key("session/last_profile", "", str)
LAST_ENVIRONMENT = Key("session/last_environment", "", str)
LAST_COMPANY = Key("session/last_company", "", str)
LAST_JOURNAL = Key("session/last_journal", "", str)
RECENT_URLS = Key("session/recent_urls", "[]", str)
HISTORY_ENABLED = Key("history/enabled", True, bool)
WATCH_INTERVAL = Key("watch/interval_seconds", 30, int)
RAW_VALUES = Key("form/raw_values", False, bool)
# The client's limits (viewer.client.Limits): what one answer may cost. README "Security" documents them.
MAX_RECORD_MB = Key("network/max_record_mb", 5.0, float)
MAX_PAGE_MB = Key("network/max_page_mb", 20.0, float)
DEADLINE_SECONDS = Key("network/deadline_seconds", 60.0, float)

# version → function bringing settings from that version to the next.
MIGRATIONS: dict[int, Callable[[Settings], None]] = {}

Stored = inifile.Value | bool | float


class Settings:
    """The app's settings file. Tests pass ``path`` (or set BCPV_DATA_DIR) to stay isolated."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = private_file(path or self.default_path())
        self._values: dict[str, inifile.Value] = {}
        self._read()
        self._migrate()

    @staticmethod
    def default_path() -> Path:
        """Where the settings file lives (without creating it)."""
        return data_dir() / "settings.ini"

    def _migrate(self) -> None:
        version = self._int("meta/version")
        if version == SETTINGS_VERSION:
            return  # nothing to write: reading settings (``show``) leaves the file alone
        if version == 0 and not self._values:
            version = SETTINGS_VERSION  # a new file needs no migration
        while version < SETTINGS_VERSION:
            step = MIGRATIONS.get(version)
            if step is not None:
                step(self)
            version += 1
        self._write({"meta/version": SETTINGS_VERSION})

    @property
    def version(self) -> int:
        return self._int("meta/version")

    def _int(self, name: str) -> int:
        try:
            return int(str(self._values.get(name, 0)))
        except ValueError:
            return 0

    def get(self, key: Key[T]) -> T:
        raw = self._values.get(key.name)
        if raw is None:
            return key.default
        if isinstance(raw, list):  # Qt's comma list; this app never writes one
            raw = ", ".join(raw)
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="replace")
        value: Any
        if key.type is bool:  # as QVariant converts text: "", "0" and "false" are false
            value = raw.strip().lower() not in ("", "0", "false")
        elif key.type in (int, float):
            try:
                value = key.type(raw.strip())
            except ValueError:
                value = key.default
        else:
            value = raw
        return cast(T, value)

    def set(self, key: Key[T], value: T) -> None:
        self.set_value(key.name, value)

    def set_value(self, name: str, value: Any) -> None:
        if _SECRET_WORDS.search(name):
            raise ValueError(f"refusing to store {name!r} in settings: secrets belong in the keyring")
        if not isinstance(value, (str, bytes, bool, int, float)):
            raise TypeError(f"settings hold text, numbers, booleans and bytes, not {type(value).__name__}")
        stored = value if isinstance(value, (str, bytes)) else inifile.encode(value)
        if self._values.get(name) == stored:
            return  # no rewrite: a click in the same journal sets the same last company and journal again
        self._write({name: value})

    def sync(self) -> None:
        """Pick up what another process wrote (every change here is already on disk)."""
        self._read()

    def _read(self) -> None:
        try:
            text = self.path.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            text = ""
        self._values = inifile.parse(text)

    def _write(self, changes: dict[str, Stored]) -> None:
        """Re-read, apply ``changes``, replace the file atomically (0600: only the user reads it)."""
        self._read()
        merged: dict[str, Stored] = {**self._values, **changes}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=self.path.parent)  # 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(inifile.render(sorted(merged.items())))
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        self._values = {k: v if isinstance(v, (str, bytes, list)) else inifile.encode(v) for k, v in merged.items()}

    # ---- recent URLs -----------------------------------------------------------------------------

    def recent_urls(self) -> list[str]:
        """What the user opened, newest first (a JSON list in one key, like the profiles)."""
        try:
            items = json.loads(self.get(RECENT_URLS))
        except ValueError:
            return []
        return [i for i in items if isinstance(i, str)] if isinstance(items, list) else []

    def set_recent_urls(self, urls: list[str]) -> None:
        self.set(RECENT_URLS, json.dumps([str(u) for u in urls], ensure_ascii=False))

    def limits(self) -> Limits:
        """The client's limits from the ``network/*`` keys; a missing, unreadable or silly value keeps its default."""
        from viewer.client import Limits  # lazily: settings load at start-up, httpx need not

        defaults = Limits()

        def positive(key: Key[float], default: float) -> float:
            try:
                value = float(str(self._values.get(key.name, default)))
            except (TypeError, ValueError):
                return default
            return value if 0 < value < 1e6 else default

        return replace(
            defaults,
            max_record_bytes=int(positive(MAX_RECORD_MB, defaults.max_record_bytes / 1e6) * 1e6),
            max_page_bytes=int(positive(MAX_PAGE_MB, defaults.max_page_bytes / 1e6) * 1e6),
            deadline=positive(DEADLINE_SECONDS, defaults.deadline),
        )

    # ---- profiles ---------------------------------------------------------------------------------

    def profiles(self) -> list[Profile]:
        raw = self._values.get("profiles/list", "[]")
        if not isinstance(raw, str):
            return []
        try:
            items = json.loads(raw)
        except ValueError:
            return []
        out: list[Profile] = []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            try:
                out.append(profile_from_dict(item))
            except (ProfileError, TypeError):
                continue  # one damaged entry must not hide the others
        return out

    def profile(self, name: str) -> Profile | None:
        return next((p for p in self.profiles() if p.name == name), None)

    def save_profile(self, profile: Profile) -> None:
        profile.validate()
        others = [p for p in self.profiles() if p.name != profile.name]
        self._write_profiles([*others, profile])

    def delete_profile(self, name: str) -> None:
        self._write_profiles([p for p in self.profiles() if p.name != name])

    def _write_profiles(self, profiles: list[Profile]) -> None:
        data = [profile_to_dict(p) for p in profiles]
        for item in data:
            bad = [k for k in item if _SECRET_WORDS.search(k)]
            assert not bad, f"profile fields look like secrets: {bad}"
        self._write({"profiles/list": json.dumps(data, ensure_ascii=False)})

    # ---- named geometry/state blobs (Anki's saveGeom/restoreGeom) --------------------------------

    def save_state(self, name: str, blob: QByteArray | bytes) -> None:
        self.set_value(f"state/{name}", blob if isinstance(blob, bytes) else blob.data())

    def restore_state(self, name: str) -> QByteArray | None:
        from PySide6.QtCore import QByteArray  # only the window asks for its geometry

        value = self._values.get(f"state/{name}")
        return QByteArray(value) if isinstance(value, bytes) else None
