"""Secrets in the OS keyring, and ones too large for it in a protected file that the keyring points to.

Windows Credential Manager holds at most 2,560 bytes per credential (``CRED_MAX_CREDENTIAL_BLOB_SIZE``;
keyring stores text as UTF-16), and a certificate PEM with its key is larger: keyring fails with error 1783.
Such a secret goes into a file encrypted with the user's Windows key (DPAPI, msal-extensions'
``FilePersistenceWithDataProtection``) in the local app-data folder, and the keyring keeps only a short
reference to it. The file is written before the reference, and removed if the reference cannot be stored, so
a failure leaves nothing half-saved. macOS's Keychain and Linux's Secret Service take large secrets as they are.

``platform``, the keyring and the protector are injectable so this is tested on Linux.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from viewer.errors import ViewerError

SERVICE = "bc-payment-viewer"
REFERENCE = "bcpv-protected-file:"
LIMITS = {"win32": 2560}  # bytes of UTF-16 text per credential


class Keyring(Protocol):
    def get_password(self, service: str, username: str) -> str | None: ...

    def set_password(self, service: str, username: str, password: str) -> None: ...

    def delete_password(self, service: str, username: str) -> None: ...


class Protected(Protocol):
    """What msal-extensions' persistences offer: an encrypted file read and written as text."""

    def save(self, content: str) -> None: ...

    def load(self) -> str: ...


def keyring_advice(platform: str) -> str:
    """What to do when the keyring refuses, in the platform's own words."""
    if platform == "win32":
        return ("Windows Credential Manager did not accept it. Sign out of Windows and back in; if that does not "
                "help, ask your IT department whether Credential Manager is restricted on this PC.")
    if platform == "darwin":
        return ("The macOS Keychain did not accept it. Unlock the login keychain in Keychain Access and allow "
                "bc-payment-viewer when macOS asks.")
    return "No keyring is available (on Linux, install and unlock a Secret Service such as GNOME Keyring)."


def _default_protector(path: Path) -> Protected:
    from msal_extensions import FilePersistenceWithDataProtection

    persistence: Protected = FilePersistenceWithDataProtection(str(path))
    return persistence


def _default_keyring() -> Keyring:
    import keyring

    backend: Keyring = keyring.get_keyring()
    return backend


class Vault:
    """``load``/``store`` secrets per profile and kind (``password``, ``client_secret``, ``certificate``, …)."""

    def __init__(
        self,
        directory: Callable[[], Path],
        *,
        platform: str = sys.platform,
        keyring: Callable[[], Keyring] = _default_keyring,
        protector: Callable[[Path], Protected] = _default_protector,
    ) -> None:
        self._directory = directory
        self.platform = platform
        self._keyring = keyring
        self._protector = protector

    def fits(self, value: str) -> bool:
        limit = LIMITS.get(self.platform)
        return limit is None or len(value.encode("utf-16-le")) <= limit

    def _file(self, profile: str, kind: str) -> Path:
        # A name from a hash: profile names may hold characters a file name cannot.
        digest = hashlib.sha256(f"{profile}:{kind}".encode()).hexdigest()[:24]
        return self._directory() / "secrets" / f"{digest}.bin"

    def store(self, profile: str, kind: str, value: str) -> None:
        """Keep ``value``; raises ``ViewerError`` with what to do on this platform, leaving nothing half-saved."""
        user = f"{profile}:{kind}"
        if self.fits(value):
            self._set(user, value)
            return
        path = self._file(profile, kind)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._protector(path).save(value)
        except Exception as exc:  # DPAPI refuses when the user profile is not loaded (some RDS set-ups)
            path.unlink(missing_ok=True)
            raise ViewerError(
                f"Windows could not encrypt the {kind.replace('_', ' ')} with your account's key (DPAPI: "
                f"{type(exc).__name__}). Sign out of Windows and back in, then save the profile again."
            ) from None
        try:
            self._set(user, REFERENCE + path.name)
        except ViewerError:
            path.unlink(missing_ok=True)
            raise

    def _set(self, user: str, value: str) -> None:
        try:
            self._keyring().set_password(SERVICE, user, value)
        except Exception as exc:
            raise ViewerError(f"The secret could not be saved. {keyring_advice(self.platform)}") from exc

    def load(self, profile: str, kind: str) -> str | None:
        """The secret, or ``None`` when absent, unreadable or when there is no keyring (the caller then asks)."""
        try:
            value = self._keyring().get_password(SERVICE, f"{profile}:{kind}")
        except Exception:  # keyring backends fail in many ways on headless machines
            return None
        if value is None or not value.startswith(REFERENCE):
            return value
        path = self._file(profile, kind)
        if path.name != value[len(REFERENCE):]:
            return None
        try:
            return self._protector(path).load()
        except Exception:  # moved, or encrypted for another Windows account: ask again
            return None


    def delete(self, profile: str, kind: str) -> bool:
        """Forget the secret and its protected file, if any; True when the keyring had it."""
        self._file(profile, kind).unlink(missing_ok=True)
        try:
            self._keyring().delete_password(SERVICE, f"{profile}:{kind}")
        except Exception:  # absent (PasswordDeleteError), or no usable keyring backend: nothing was there
            return False
        return True


def default_vault() -> Vault:
    from viewer.paths import local_data_dir

    return Vault(local_data_dir)
