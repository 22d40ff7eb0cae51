from __future__ import annotations

from pathlib import Path

import pytest

from viewer.client import Limits
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
