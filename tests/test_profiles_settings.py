from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QByteArray, QCoreApplication, QSettings, QStandardPaths

from viewer import inifile
from viewer.client import Limits
from viewer.paths import APP_NAME, ORG_NAME, app_data_location
from viewer.profiles import (
    CloudUserProfile,
    OnPremProfile,
    ProfileError,
    SandboxProfile,
    ServicePrincipalProfile,
    profile_from_dict,
    profile_to_dict,
)
from viewer.settings import (
    DEADLINE_SECONDS,
    HISTORY_ENABLED,
    LAST_PROFILE,
    MAX_PAGE_MB,
    MAX_RECORD_MB,
    WATCH_INTERVAL,
    Settings,
)

GUID = "11111111-2222-3333-4444-555555555555"


def test_profiles_round_trip_and_validate(tmp_path: Path) -> None:
    settings = Settings(tmp_path / "s.ini")
    profiles = [
        CloudUserProfile("Contoso", "contoso.com", GUID, "sandbox"),
        ServicePrincipalProfile("Robot", GUID, GUID),
        OnPremProfile("Local", "https://bc.contoso.local:7048/BC", "ADMIN", tenant="default"),
        SandboxProfile(),
    ]
    for p in profiles:
        settings.save_profile(p)
    again = Settings(tmp_path / "s.ini")
    assert again.profiles() == profiles
    assert again.profile("Robot") == profiles[1]
    assert profiles[0].api_root == "https://api.businesscentral.dynamics.com/v2.0/contoso.com/sandbox/api"
    assert profiles[0].authority == "https://login.microsoftonline.com/contoso.com"


@pytest.mark.parametrize(
    "profile,message",
    [
        (CloudUserProfile("x", "not a tenant", GUID), "Tenant"),
        (CloudUserProfile("x", "contoso.com", "nope"), "Client id"),
        (CloudUserProfile("", "contoso.com", GUID), "name"),
        (ServicePrincipalProfile("x", "common", GUID), "specific tenant"),
        (OnPremProfile("x", "http://bc.contoso.com:7048/BC", "u"), "https"),
        (OnPremProfile("x", "https://bc.contoso.com:7048/BC", " "), "User"),
    ],
)
def test_invalid_profiles_name_the_field(profile: object, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        profile.validate()  # type: ignore[attr-defined]


def test_loopback_http_is_allowed_for_onprem() -> None:
    OnPremProfile("x", "http://127.0.0.1:7048/BC", "u").validate()


def test_no_secret_reaches_the_settings_file(tmp_path: Path) -> None:
    settings = Settings(tmp_path / "s.ini")
    settings.save_profile(ServicePrincipalProfile("Robot", GUID, GUID))
    with pytest.raises(ValueError, match="keyring"):
        settings.set_value("profiles/Robot/client_secret", "s3cret")
    with pytest.raises(ValueError):
        settings.set_value("auth/access_token", "abc")
    settings.sync()
    text = (tmp_path / "s.ini").read_text()
    assert "s3cret" not in text and "abc" not in text


def test_typed_values_and_version(tmp_path: Path) -> None:
    settings = Settings(tmp_path / "s.ini")
    assert settings.version == 1
    assert settings.get(HISTORY_ENABLED) is True
    assert settings.get(WATCH_INTERVAL) == 30
    settings.set(WATCH_INTERVAL, 45)
    settings.set(LAST_PROFILE, "Contoso")
    settings.sync()
    again = Settings(tmp_path / "s.ini")
    assert again.get(WATCH_INTERVAL) == 45 and isinstance(again.get(WATCH_INTERVAL), int)
    assert again.get(LAST_PROFILE) == "Contoso"


def test_unknown_keys_and_kinds_are_tolerated(tmp_path: Path) -> None:
    data = profile_to_dict(CloudUserProfile("C", "contoso.com", GUID))
    data["future_field"] = 1
    assert profile_from_dict(data) == CloudUserProfile("C", "contoso.com", GUID)
    with pytest.raises(ProfileError):
        profile_from_dict({"kind": "martian"})
    (tmp_path / "s.ini").write_text('[profiles]\nlist="[{\\"kind\\": \\"martian\\"}, 5]"\n')
    assert Settings(tmp_path / "s.ini").profiles() == []


def test_settings_file_is_private_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "new" / "settings.ini"
    settings = Settings(path)
    settings.set(LAST_PROFILE, "x")
    settings.sync()
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    path.chmod(0o644)  # an older, wider file is tightened when opened
    Settings(path).sync()
    assert path.stat().st_mode & 0o777 == 0o600


def test_network_limits_come_from_settings_and_ignore_nonsense(tmp_path: Path) -> None:
    settings = Settings(tmp_path / "s.ini")
    assert settings.limits() == Limits()
    settings.set(MAX_RECORD_MB, 0.5)
    settings.set_value(MAX_PAGE_MB.name, "lots")
    settings.set(DEADLINE_SECONDS, -3.0)
    limits = settings.limits()
    assert limits.max_record_bytes == 500_000
    assert limits.max_page_bytes == Limits().max_page_bytes and limits.deadline == Limits().deadline


# ---- one file, two readers: viewer/inifile.py against QSettings -------------------------------------------

# Text as people type it (any printable character, accents, quotes, commas, backslashes, '@', edge spaces)
# and control characters, which Qt escapes.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
KEY = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}(/[A-Za-z0-9_.\- ]{1,8}){1,2}", fullmatch=True)
VALUES = st.dictionaries(KEY, TEXT | st.binary(max_size=24) | st.booleans() | st.integers(-10**6, 10**6), max_size=6)


def round_trip(test: Any) -> Any:
    """Both directions run on the same generated values."""
    return settings(max_examples=60, deadline=None)(given(values=VALUES)(test))


@round_trip
def test_what_we_write_qsettings_reads(tmp_path_factory: pytest.TempPathFactory,
                                       values: dict[str, str | bytes | bool | int]) -> None:
    path = tmp_path_factory.mktemp("ini") / "s.ini"
    path.write_text(inifile.render(sorted(values.items())), encoding="utf-8")
    qs = QSettings(str(path), QSettings.Format.IniFormat)
    assert sorted(qs.allKeys()) == sorted(values)
    for key, value in values.items():
        got = qs.value(key)
        if isinstance(value, bool):
            assert got == ("true" if value else "false")
        elif isinstance(value, bytes):
            assert isinstance(got, QByteArray) and bytes(got) == value
        else:
            assert got == str(value)


@round_trip
def test_what_qsettings_writes_we_read(tmp_path_factory: pytest.TempPathFactory,
                                       values: dict[str, str | bytes | bool | int]) -> None:
    path = tmp_path_factory.mktemp("ini") / "s.ini"
    qs = QSettings(str(path), QSettings.Format.IniFormat)
    for key, value in values.items():
        qs.setValue(key, QByteArray(value) if isinstance(value, bytes) else value)
    qs.sync()
    assert qs.status() == QSettings.Status.NoError
    read = inifile.parse(path.read_text("utf-8") if path.exists() else "")
    assert read == {k: v if isinstance(v, (str, bytes)) else inifile.encode(v) for k, v in values.items()}


def test_settings_and_qsettings_share_one_file(tmp_path: Path) -> None:
    """The window's geometry blob, typed keys and profiles written by either side are read by the other."""
    path = tmp_path / "s.ini"
    qs = QSettings(str(path), QSettings.Format.IniFormat)
    qs.setValue("meta/version", 1)
    qs.setValue("watch/interval_seconds", 45)
    qs.setValue("history/enabled", False)
    qs.setValue("network/max_record_mb", 0.5)
    qs.setValue("profiles/list", '[{"kind": "onprem", "name": "Büro, \\"main\\"", "base_url": '
                '"https://bc.contoso.local:7048/BC", "user": "ADMIN"}]')
    qs.setValue("state/mainWindow/geometry", QByteArray(bytes(range(256))))
    qs.sync()
    ours = Settings(path)
    assert ours.get(WATCH_INTERVAL) == 45 and ours.get(HISTORY_ENABLED) is False
    assert ours.get(MAX_RECORD_MB) == 0.5
    ours.set(DEADLINE_SECONDS, 12.5)
    assert [p.name for p in ours.profiles()] == ['Büro, "main"']
    geometry = ours.restore_state("mainWindow/geometry")
    assert geometry is not None and bytes(geometry) == bytes(range(256))
    ours.save_profile(CloudUserProfile("Contoso; =@x", "contoso.com", GUID))
    ours.set(LAST_PROFILE, "@Contoso, again ")
    ours.save_state("mainWindow/splitter", QByteArray(b"\x00\x01\xff"))
    again = QSettings(str(path), QSettings.Format.IniFormat)
    assert again.value("session/last_profile") == "@Contoso, again "
    assert bytes(again.value("state/mainWindow/splitter")) == b"\x00\x01\xff"
    assert bytes(again.value("state/mainWindow/geometry")) == bytes(range(256))
    assert again.value("watch/interval_seconds", type=int) == 45
    assert again.value("network/deadline_seconds", type=float) == 12.5
    assert [p.name for p in Settings(path).profiles()] == ['Büro, "main"', "Contoso; =@x"]
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_second_writer_keeps_the_first_ones_keys(tmp_path: Path) -> None:
    one, two = Settings(tmp_path / "s.ini"), Settings(tmp_path / "s.ini")
    one.set(LAST_PROFILE, "Contoso")
    two.set(WATCH_INTERVAL, 60)
    three = Settings(tmp_path / "s.ini")
    assert three.get(LAST_PROFILE) == "Contoso" and three.get(WATCH_INTERVAL) == 60


def test_data_dir_is_where_qt_puts_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The terminal command finds the window's files without asking Qt where they are."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for xdg in (None, str(tmp_path / "xdg")):
        if xdg is None:
            monkeypatch.delenv("XDG_DATA_HOME", raising=False)
        else:
            monkeypatch.setenv("XDG_DATA_HOME", xdg)
        QCoreApplication.setApplicationName(APP_NAME)
        QCoreApplication.setOrganizationName(ORG_NAME)
        roaming = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
        local = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)
        assert (app_data_location(), app_data_location(local=True)) == (Path(roaming), Path(local))


def test_setting_the_same_value_again_leaves_the_file_alone(tmp_path: Path) -> None:
    settings = Settings(tmp_path / "s.ini")
    settings.set(LAST_PROFILE, "Contoso")
    settings.set(WATCH_INTERVAL, 45)
    before = (tmp_path / "s.ini").stat()
    settings.set(LAST_PROFILE, "Contoso")
    settings.set(WATCH_INTERVAL, 45)
    after = (tmp_path / "s.ini").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    settings.set(WATCH_INTERVAL, 60)
    assert (tmp_path / "s.ini").stat().st_ino != before.st_ino
    assert Settings(tmp_path / "s.ini").get(WATCH_INTERVAL) == 60
