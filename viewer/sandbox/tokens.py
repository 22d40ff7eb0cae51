"""RS256 token minting and validation for the sandbox identity platform.

The signing key is loaded once as a key object: PyJWT signing with PEM bytes costs ~42 ms a token,
with a key object ~0.7 ms (measured here).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import RSAAlgorithm


class TokenError(Exception):
    """A bearer token was refused; ``reason`` is a short machine word, the message is for people."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def self_signed_certificate(key: rsa.RSAPrivateKey, common_name: str, days: int = 30) -> x509.Certificate:
    """A self-signed certificate for ``key`` (the sandbox's signing key, a service principal's key)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )


def v1_issuer(tenant_id: str) -> str:
    """The ``iss`` of the v1.0 access tokens Entra issues for resources like Business Central."""
    return f"https://sts.windows.net/{tenant_id}/"


class TokenIssuer:
    """Holds the tenant's signing key; issues and checks access and id tokens.

    Tokens for a resource in ``v1_audiences`` (Business Central's, whose app registration accepts v1.0
    tokens) have the v1.0 shape Entra gives them: issuer ``https://sts.windows.net/{tid}/``, ``appid`` and
    ``appidacr`` (never ``azp``), ``scp`` for users, ``roles`` for apps, ``ver: "1.0"``. Others (and id
    tokens) have the v2.0 shape with this authority's issuer. Times are whole seconds, as Entra sends them.
    """

    def __init__(self, *, issuer: str, tenant_id: str, token_lifetime: int,
                 v1_audiences: frozenset[str] = frozenset()) -> None:
        self.issuer = issuer
        self.tenant_id = tenant_id
        self.token_lifetime = token_lifetime
        self.v1_audiences = v1_audiences
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._public = self._key.public_key()
        # Entra publishes each signing key with its certificate; kid and x5t are both its SHA-1 thumbprint.
        der = self_signed_certificate(self._key, "accounts.sandbox.local").public_bytes(serialization.Encoding.DER)
        self._x5c = base64.b64encode(der).decode("ascii")
        self.kid = b64url(hashlib.sha1(der, usedforsecurity=False).digest())
        self._lock = threading.Lock()
        # Tokens minted in a generation below this count as expired (forced expiry for tests). A generation
        # rather than a time: ``iat`` is whole seconds, and a token fetched in the same second as the forced
        # expiry must still be good.
        self._generation = 0
        self._valid_from_generation = 0

    def issuer_for(self, audience: str) -> str:
        return v1_issuer(self.tenant_id) if audience in self.v1_audiences else self.issuer

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self._public))
        jwk.update({"kid": self.kid, "use": "sig", "x5t": self.kid, "x5c": [self._x5c],
                    "issuer": self.issuer})
        return {"keys": [jwk]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid, "x5t": self.kid,
                                                                         "typ": "JWT"})

    def _aio(self) -> str:
        """Entra's opaque ``aio`` claim; here it carries the issuing generation (see ``expire_all``)."""
        with self._lock:
            generation = self._generation
        return b64url(f"{generation}:{uuid.uuid4().hex}".encode())

    def issue_access_token(
        self,
        *,
        audience: str,
        client_id: str,
        subject: dict[str, str] | None = None,
        scopes: str = "",
        roles: list[str] | None = None,
        lifetime: int | None = None,
        client_auth: str = "0",
    ) -> tuple[str, int]:
        """Return ``(token, expires_in)``. ``subject`` (oid, name, preferred_username) makes it delegated.

        ``client_auth`` is ``appidacr``: "0" a public client, "1" a client secret, "2" a certificate.
        """
        now = int(time.time())
        expires_in = self.token_lifetime if lifetime is None else lifetime
        v1 = audience in self.v1_audiences
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": self.issuer_for(audience),
            "iat": now,
            "nbf": now,
            "exp": now + expires_in,
            "aio": self._aio(),
            "tid": self.tenant_id,
            "uti": uuid.uuid4().hex[:22],
            "ver": "1.0" if v1 else "2.0",
        }
        if v1:
            claims.update({"appid": client_id, "appidacr": client_auth})
        else:
            claims.update({"azp": client_id, "azpacr": client_auth})
        if subject is not None:
            claims.update({"oid": subject["oid"], "sub": subject["oid"], "name": subject["name"], "scp": scopes,
                           "idtyp": "user"})
            if v1:
                claims.update({"upn": subject["preferred_username"], "unique_name": subject["preferred_username"],
                               "amr": ["pwd"]})
            else:
                claims["preferred_username"] = subject["preferred_username"]
        else:
            claims.update({"oid": client_id, "sub": client_id, "roles": roles or [], "idtyp": "app"})
            if v1:
                claims["idp"] = claims["iss"]
        return self.sign(claims), expires_in

    def issue_id_token(
        self, *, client_id: str, subject: dict[str, str], nonce: str | None = None
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": client_id,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "tid": self.tenant_id,
            "oid": subject["oid"],
            "sub": subject["oid"],
            "name": subject["name"],
            "preferred_username": subject["preferred_username"],
            "ver": "2.0",
        }
        if nonce:
            claims["nonce"] = nonce
        return self.sign(claims)

    def expire_all(self) -> None:
        with self._lock:
            self._generation += 1
            self._valid_from_generation = self._generation

    def reset(self) -> None:
        with self._lock:
            self._valid_from_generation = 0

    def verify(self, token: str, audience: str) -> dict[str, Any]:
        """Check signature (RS256 only; ``alg: none`` is refused), ``aud``, ``iss`` and ``exp``.

        No clock-skew leeway: ``exp`` is enforced to the second so short lifetimes can be tested.
        """
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._public,
                algorithms=["RS256"],
                audience=audience,
                issuer=self.issuer_for(audience),
                leeway=0,
                options={"require": ["exp", "iat", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("expired", "The access token has expired.") from exc
        except jwt.InvalidAudienceError as exc:
            raise TokenError("audience", "The access token was issued for another resource.") from exc
        except jwt.InvalidIssuerError as exc:
            raise TokenError("issuer", "The access token was issued by an unknown authority.") from exc
        except jwt.PyJWTError as exc:
            raise TokenError("invalid", "The access token is not valid.") from exc
        if self._generation_of(str(claims.get("aio", ""))) < self._valid_from_generation:
            raise TokenError("expired", "The access token has expired.")
        return claims

    def _generation_of(self, aio: str) -> int:
        try:
            return int(base64.urlsafe_b64decode(aio + "=" * (-len(aio) % 4)).decode("ascii").split(":", 1)[0])
        except (ValueError, UnicodeDecodeError):
            return -1
