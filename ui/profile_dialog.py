"""Profiles…: create, edit and delete connection profiles (cloud user, service principal, on-prem).

The built-in sandbox is the list's first entry: shown, never edited or deleted.

Non-blocking (shown with ``open()``). Secrets typed here go straight to the OS keyring through
``viewer.auth.store_secret``; the settings file only ever gets the profile's plain fields.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ui.a11y import StatusLabel
from viewer.errors import ViewerError
from viewer.profiles import (
    MICROSOFT_API,
    MICROSOFT_LOGIN,
    CloudUserProfile,
    OnPremProfile,
    Profile,
    ProfileError,
    SandboxProfile,
    ServicePrincipalProfile,
    check_saveable,
    proxy_has_user,
    read_certificate,
    secret_kind,
)
from viewer.settings import Settings
from viewer.tasks import TaskSlot

SANDBOX_ENTRY = "Sandbox (built in)"
SANDBOX_NOTE = (
    "The built-in sandbox: a Business Central and sign-in service of its own, on this computer only, with demo "
    "companies and payments that change by themselves. No account needed. Choose “Sandbox” in the sign-in bar's "
    "profile list to use it."
)

KINDS = (("Microsoft account (cloud)", CloudUserProfile), ("Service principal (app)", ServicePrincipalProfile),
         ("On-premises server", OnPremProfile))

SecretStore = Callable[[str, str, str], None]


def _line(name: str, accessible: str, placeholder: str = "", *, secret: bool = False) -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setAccessibleName(accessible)
    edit.setPlaceholderText(placeholder)
    if secret:
        edit.setEchoMode(QLineEdit.EchoMode.Password)
    return edit


class ProfileDialog(QDialog):
    """``saved(name)`` after a save or delete, so the sign-in bar can reload its list."""

    saved = Signal(str)

    def __init__(self, settings: Settings, *, store_secret: SecretStore | None = None,
                 parent: QWidget | None = None, platform: str = sys.platform) -> None:
        super().__init__(parent)
        self.setObjectName("profileDialog")
        self.setWindowTitle("Profiles")
        self.setAccessibleName("Profiles")
        self.settings = settings
        if store_secret is None:
            from viewer.auth import store_secret as keyring_store

            store_secret = keyring_store
        self._store_secret = store_secret
        self._saving = TaskSlot("profile save")

        self.list = QListWidget()
        self.list.setObjectName("profileList")
        self.list.setAccessibleName("Saved profiles")
        self.list.currentItemChanged.connect(lambda _new, _old: self._load_current())
        self.new_button = QPushButton("Ne&w")  # Alt+N is the name
        self.new_button.setAccessibleName("New profile")
        self.new_button.clicked.connect(self.new_profile)
        self.delete_button = QPushButton("&Delete")
        self.delete_button.setAccessibleName("Delete profile")
        self.delete_button.clicked.connect(self.delete_profile)

        self.kind = QComboBox()
        self.kind.setObjectName("profileKind")
        self.kind.setAccessibleName("Profile kind")
        for label, cls in KINDS:
            self.kind.addItem(label, cls)
        self.name = _line("profileName", "Profile name", "e.g. Contoso production")

        # Cloud (user and service principal share these).
        self.tenant = _line("profileTenant", "Tenant", "contoso.com or the tenant id (GUID)")
        self.environment = _line("profileEnvironment", "Environment", "production")
        self.client_id = _line("profileClientId", "Client id", "Application (client) id of your app registration")
        self.authority_host = _line("profileAuthority", "Sign-in address", MICROSOFT_LOGIN)
        self.api_base = _line("profileApiBase", "API address", MICROSOFT_API)
        self.client_secret = _line("profileClientSecret", "Client secret", "stored in the system keyring",
                                   secret=True)
        # On-prem.
        self.base_url = _line("profileBaseUrl", "Server address", "https://bc.contoso.local:7048/BC")
        self.user = _line("profileUser", "User name")
        self.onprem_tenant = _line("profileOnPremTenant", "Server tenant", "only for multitenant servers")
        self.password = _line("profilePassword", "Password or web service access key", "stored in the system keyring",
                              secret=True)
        self.ca_file = _line("profileCaFile", "CA certificate file", "optional: PEM file of a private CA")
        # Empty: HTTPS_PROXY or the system's proxy setting. PAC/WPAD scripts are not evaluated (README).
        self.proxy = _line("profileProxy", "Proxy", "optional: http://[user@]proxy.example.com:8080")
        self.proxy.setToolTip("Empty: the HTTPS_PROXY variable or the system's proxy setting. Automatic "
                              "configuration scripts (.pac) are not read: enter the proxy they choose.")
        self.proxy_password = _line("profileProxyPassword", "Proxy password", "stored in the system keyring",
                                    secret=True)
        # The Windows account broker (WAM): Microsoft sign-in only, so only for cloud users, only on Windows.
        self.use_broker = QCheckBox("Sign in with the Windows account (&broker)")
        self.use_broker.setObjectName("profileUseBroker")
        self.use_broker.setEnabled(platform == "win32")
        if platform != "win32":
            self.use_broker.setToolTip("Windows only")

        self.cloud_form = QWidget()
        cloud = QFormLayout(self.cloud_form)
        cloud.addRow("&Tenant:", self.tenant)
        cloud.addRow("&Environment:", self.environment)
        cloud.addRow("C&lient id:", self.client_id)
        self.credential = QComboBox()
        self.credential.setObjectName("profileCredential")
        self.credential.setAccessibleName("Service principal credential")
        self.credential.addItem("Client secret", "secret")
        self.credential.addItem("Certificate (PEM file with the private key)", "certificate")
        self.credential.currentIndexChanged.connect(lambda _i: self._show_kind())
        self.credential_label = QLabel("C&redential:")
        self.credential_label.setBuddy(self.credential)
        cloud.addRow(self.credential_label, self.credential)
        self.secret_label = QLabel("Client &secret:")
        self.secret_label.setBuddy(self.client_secret)
        cloud.addRow(self.secret_label, self.client_secret)
        self.certificate_file = _line("profileCertificate", "Certificate file",
                                      "PEM file with the private key and the certificate (read into the keyring)")
        self.certificate_label = QLabel("Certificate &file:")
        self.certificate_label.setBuddy(self.certificate_file)
        cloud.addRow(self.certificate_label, self.certificate_file)
        cloud.addRow("Sign-in address:", self.authority_host)
        cloud.addRow("API address:", self.api_base)
        cloud.addRow(self.use_broker)
        self.onprem_form = QWidget()
        onprem = QFormLayout(self.onprem_form)
        onprem.addRow("Server &address:", self.base_url)
        onprem.addRow("&User:", self.user)
        onprem.addRow("&Password or key:", self.password)
        onprem.addRow("Server tenant:", self.onprem_tenant)
        self.forms = QStackedWidget()
        self.forms.addWidget(self.cloud_form)
        self.forms.addWidget(self.onprem_form)
        self.kind.currentIndexChanged.connect(lambda _i: self._show_kind())

        self.message = StatusLabel("Profile problem", announce=True)
        self.message.setObjectName("profileMessage")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Close)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

        top = QFormLayout()
        top.addRow("&Kind:", self.kind)
        top.addRow("&Name:", self.name)
        right = QVBoxLayout()
        right.addLayout(top)
        right.addWidget(self.forms)
        right.addWidget(QLabel("Secrets are kept in the system keyring, never in the settings file."))
        right.addWidget(_with_label("CA file:", self.ca_file))
        right.addWidget(_with_label("Pro&xy:", self.proxy))
        right.addWidget(_with_label("Proxy passw&ord:", self.proxy_password))
        right.addWidget(self.message)
        right.addStretch(1)
        left = QVBoxLayout()
        saved_label = QLabel("Sa&ved profiles:")
        saved_label.setBuddy(self.list)
        saved_label.setWordWrap(True)
        left.addWidget(saved_label)
        left.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addWidget(self.new_button)
        row.addWidget(self.delete_button)
        left.addLayout(row)
        body = QHBoxLayout()
        body.addLayout(left, 1)
        body.addLayout(right, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(body)
        layout.addWidget(self.buttons)
        self.resize(760, 420)
        self.reload()

    # ---- list ----------------------------------------------------------------------------------

    def reload(self, select: str | None = None) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        builtin = QListWidgetItem(SANDBOX_ENTRY)
        builtin.setData(Qt.ItemDataRole.UserRole, SandboxProfile())
        builtin.setToolTip(SANDBOX_NOTE)
        self.list.addItem(builtin)
        for profile in self.settings.profiles():
            if isinstance(profile, SandboxProfile):
                continue  # the built-in entry above is the one sandbox
            item = QListWidgetItem(profile.name)
            item.setData(Qt.ItemDataRole.UserRole, profile)
            self.list.addItem(item)
        self.list.blockSignals(False)
        rows = [self.list.item(i).text() for i in range(self.list.count())]
        if select in rows:
            self.list.setCurrentRow(rows.index(select))
        elif len(rows) > 1:
            self.list.setCurrentRow(1)
        else:
            self.new_profile()  # nothing saved yet: the form is ready for the first profile
            return
        self._load_current()

    def current(self) -> Profile | None:
        item = self.list.currentItem()
        profile: Profile | None = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return profile

    def _load_current(self) -> None:
        profile = self.current()
        self.message.clear()
        builtin = isinstance(profile, SandboxProfile)
        self._set_editable(not builtin)
        self.delete_button.setEnabled(profile is not None and not builtin)
        if profile is None:
            return
        if builtin:
            self.message.setText(SANDBOX_NOTE)
            return
        self.name.setText(profile.name)
        for i, (_label, cls) in enumerate(KINDS):
            if isinstance(profile, cls):
                self.kind.setCurrentIndex(i)
        if isinstance(profile, CloudUserProfile | ServicePrincipalProfile):
            self.tenant.setText(profile.tenant)
            self.environment.setText(profile.environment)
            self.client_id.setText(profile.client_id)
            self.authority_host.setText("" if profile.authority_host == MICROSOFT_LOGIN else profile.authority_host)
            self.api_base.setText("" if profile.api_base == MICROSOFT_API else profile.api_base)
        if isinstance(profile, ServicePrincipalProfile):
            self.credential.setCurrentIndex(max(0, self.credential.findData(profile.credential)))
        if isinstance(profile, OnPremProfile):
            self.base_url.setText(profile.base_url)
            self.user.setText(profile.user)
            self.onprem_tenant.setText(profile.tenant or "")
        self.ca_file.setText(getattr(profile, "ca_file", None) or "")
        self.proxy.setText(getattr(profile, "proxy", None) or "")
        self.use_broker.setChecked(bool(getattr(profile, "use_broker", False)))
        self.client_secret.clear()
        self.password.clear()
        self.proxy_password.clear()
        self._show_kind()

    def _set_editable(self, editable: bool) -> None:
        """The built-in sandbox has nothing to edit: its form is shown disabled and cannot be saved."""
        for widget in (self.kind, self.name, self.forms, self.ca_file, self.proxy, self.proxy_password):
            widget.setEnabled(editable)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(editable)

    def new_profile(self) -> None:
        self.list.clearSelection()
        self.list.setCurrentRow(-1)
        self._set_editable(True)
        for edit in (self.name, self.tenant, self.environment, self.client_id, self.authority_host, self.api_base,
                     self.client_secret, self.base_url, self.user, self.onprem_tenant, self.password, self.ca_file,
                     self.certificate_file, self.proxy, self.proxy_password):
            edit.clear()
        self.use_broker.setChecked(False)
        self.delete_button.setEnabled(False)
        self.message.clear()
        self._show_kind()
        self.name.setFocus()

    def _show_kind(self) -> None:
        cls = self.kind.currentData()
        self.forms.setCurrentWidget(self.onprem_form if cls is OnPremProfile else self.cloud_form)
        service = cls is ServicePrincipalProfile
        certificate = service and self.credential.currentData() == "certificate"
        shown: list[tuple[QWidget, bool]] = [
            (self.credential, service), (self.credential_label, service),
            (self.client_secret, service and not certificate), (self.secret_label, service and not certificate),
            (self.certificate_file, certificate), (self.certificate_label, certificate),
            (self.use_broker, cls is CloudUserProfile),
        ]
        for widget, visible in shown:
            widget.setVisible(visible)

    # ---- save / delete -------------------------------------------------------------------------

    def build(self) -> Profile:
        """The profile the form describes (validated; ``ProfileError`` names the wrong field)."""
        cls = self.kind.currentData()
        name = self.name.text().strip()
        ca_file = self.ca_file.text().strip() or None
        proxy = self.proxy.text().strip() or None
        profile: Profile
        if cls is OnPremProfile:
            profile = OnPremProfile(name=name, base_url=self.base_url.text().strip(), user=self.user.text().strip(),
                                    tenant=self.onprem_tenant.text().strip() or None, ca_file=ca_file, proxy=proxy)
        else:
            extra: dict[str, object] = (
                {"credential": str(self.credential.currentData())} if cls is ServicePrincipalProfile
                else {"use_broker": self.use_broker.isChecked()})
            profile = cls(
                name=name,
                tenant=self.tenant.text().strip(),
                client_id=self.client_id.text().strip(),
                environment=self.environment.text().strip() or "production",
                authority_host=self.authority_host.text().strip() or MICROSOFT_LOGIN,
                api_base=self.api_base.text().strip() or MICROSOFT_API,
                ca_file=ca_file,
                proxy=proxy,
                **extra,
            )
        profile.validate()
        return profile

    def save(self) -> None:
        """The Save button. The keyring is reached off the GUI thread (D-Bus or the Credential Manager may take
        their time), so the outcome shows in ``message`` once stored; ``save_async`` is the same, awaitable."""
        self._saving.start(self.save_async())

    async def save_async(self) -> bool:
        try:
            profile = self.build()
            check_saveable(profile)
            old = self.current()
            kind = secret_kind(profile)
            typed = (self.client_secret.text() if kind == "client_secret"
                     else self.password.text() if kind == "password" else "")
            proxy_password = self.proxy_password.text() if proxy_has_user(profile) else ""
        except (ProfileError, ViewerError) as exc:
            self.message.setText(f"✗ {exc}")
            return False
        finally:
            self.client_secret.clear()  # never keep a typed secret around in a widget
            self.password.clear()
            self.proxy_password.clear()
        try:
            secret = await asyncio.to_thread(self._read_certificate) if kind == "certificate" else typed
            secrets = [(kind, secret), ("proxy_password", proxy_password)]
            # Secrets first: if the keyring refuses one, the profile is not saved at all (never half).
            await asyncio.to_thread(self._store_secrets, profile.name, secrets)
            self.settings.save_profile(profile)
            if old is not None and not isinstance(old, SandboxProfile) and old.name != profile.name:
                self.settings.delete_profile(old.name)  # a rename
        except (ProfileError, ViewerError) as exc:
            self.message.setText(f"✗ {exc}")
            return False
        self.settings.sync()
        self.reload(select=profile.name)
        self.message.setText(f"✓ Saved “{profile.name}”.")
        self.saved.emit(profile.name)
        return True

    def _store_secrets(self, profile: str, secrets: list[tuple[str, str]]) -> None:
        for secret_name, value in secrets:
            if value:
                self._store_secret(profile, secret_name, value)

    def _read_certificate(self) -> str:
        """The PEM goes to the keyring; the file path is not kept (the file may be removed afterwards)."""
        path = self.certificate_file.text().strip()
        return read_certificate(path) if path else ""

    def delete_profile(self) -> None:
        profile = self.current()
        if profile is None or isinstance(profile, SandboxProfile):
            return
        self.settings.delete_profile(profile.name)
        self.settings.sync()
        self.reload()
        self.saved.emit("")


def _with_label(text: str, widget: QWidget) -> QWidget:
    holder = QWidget()
    row = QFormLayout(holder)
    row.setContentsMargins(0, 0, 0, 0)
    label = QLabel(text)
    label.setBuddy(widget)
    row.addRow(label, widget)
    return holder
