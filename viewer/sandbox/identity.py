"""STUB — to be replaced by the identity implementation (routes, flows). Interface is fixed."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute

from viewer.sandbox.tokens import TokenIssuer
from viewer.sandbox.bcerrors import BC_RESOURCE


@dataclass(frozen=True)
class User:
    oid: str
    username: str
    name: str

    def subject(self) -> dict[str, str]:
        return {"oid": self.oid, "name": self.name, "preferred_username": self.username}


class Identity:
    def __init__(self, *, base_url: str, tenant_id: str, tenant_domain: str, token_lifetime: int, seed: int) -> None:
        self.base_url = base_url
        self.tenant_id = tenant_id
        self.tenant_domain = tenant_domain
        self.issuer = f"{base_url}/{tenant_id}/v2.0"
        self.tokens = TokenIssuer(issuer=self.issuer, tenant_id=tenant_id, token_lifetime=token_lifetime)
        ns = uuid.uuid5(uuid.NAMESPACE_URL, f"bcpv-identity-{seed}")
        self.public_client_id = str(uuid.uuid5(ns, "public-client"))
        self.service_principal_id = str(uuid.uuid5(ns, "service-principal"))
        self.service_principal_secret = "sbx~" + hashlib.sha256(f"{seed}-secret".encode()).hexdigest()[:36]
        self.basic_user = "ADMIN"
        self.basic_password = hashlib.sha256(f"{seed}-key".encode()).hexdigest()[:44]
        self.users = [
            User(str(uuid.uuid5(ns, "user-1")), f"alex.wilber@{tenant_domain}", "Alex Wilber"),
            User(str(uuid.uuid5(ns, "user-2")), f"megan.bowen@{tenant_domain}", "Megan Bowen"),
        ]

    def routes(self) -> list[BaseRoute]:
        return []

    def issue_access_token(self, *, audience: str = BC_RESOURCE, username: str | None = None,
                           app: bool = False, lifetime: int | None = None) -> str:
        if app:
            token, _ = self.tokens.issue_access_token(audience=audience, client_id=self.service_principal_id,
                                                      roles=["API.ReadWrite.All"], lifetime=lifetime)
            return token
        user = next((u for u in self.users if u.username == username), self.users[0])
        token, _ = self.tokens.issue_access_token(audience=audience, client_id=self.public_client_id,
                                                  subject=user.subject(), scopes="Financials.ReadWrite.All user_impersonation",
                                                  lifetime=lifetime)
        return token

    def verify_access_token(self, token: str, audience: str) -> dict[str, Any]:
        return self.tokens.verify(token, audience)

    def approve_device_code(self, user_code: str, username: str | None = None) -> None:
        raise KeyError(user_code)

    def deny_device_code(self, user_code: str) -> None:
        raise KeyError(user_code)

    def revoke_refresh_tokens(self, username: str | None = None) -> None:
        pass

    def expire_all_tokens(self) -> None:
        self.tokens.expire_all()

    def reset(self) -> None:
        self.tokens.reset()
