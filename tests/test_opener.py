"""Open…: pasted text → the URL to load on the current connection (never another server)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from viewer.opener import describe, endpoint_of, resolve
from viewer.refs import RefError

CID = "1027c4d1-c386-4bc4-8d61-3e30d8f16adf"
JID = "c6e95218-55fd-4401-aefa-083b460f923d"
PID = "1a6f9365-06b0-4a21-baec-1fcf3aaeb5ed"
ROOT = "https://127.0.0.1:4443/v2.0/2c1e12aa-b360-52b5-ab4d-f2a6242b7900/production/api"


@dataclass
class FakeConnection:
    api_root: str = ROOT

    def api_root_for(self, environment: str | None) -> str:
        return self.api_root.replace("/production/", f"/{environment}/") if environment else self.api_root


@dataclass
class FakeNavigation:
    connection: FakeConnection | None = None
    environment: str | None = None
    company_id: str | None = None


def test_bare_payment_guid_uses_the_chosen_company_and_environment() -> None:
    nav = FakeNavigation(FakeConnection(), "sandbox", CID)
    url = resolve(f"{{{PID.upper()}}}", nav)
    assert url == f"{ROOT.replace('/production/', '/sandbox/')}/v2.0/companies({CID})/customerPayments({PID})"
    assert "sandbox environment" in describe(PID, nav)


def test_full_url_on_the_signed_in_server_is_kept() -> None:
    nav = FakeNavigation(FakeConnection())
    url = f"{ROOT}/beta/companies({CID})/customerPaymentsJournals({JID})/customerPayments({PID})"
    assert resolve(url, nav) == url.replace("customerPaymentsJournals", "customerPaymentJournals")


@pytest.mark.parametrize(
    "text,words",
    [
        (PID, "company"),
        (f"https://api.businesscentral.dynamics.com/v2.0/x.com/production/api/v2.0/companies({CID})/customerPayments"
         f"({PID})", "signed in to 127.0.0.1:4443"),
        (f"{ROOT}/v2.0/companies({CID})", "no payment"),
        ("garbage", "URL|GUID|Paste"),
    ],
)
def test_refusals_say_why(text: str, words: str) -> None:
    with pytest.raises(RefError, match=words):
        resolve(text, FakeNavigation(FakeConnection()))


def test_signed_out_cannot_open() -> None:
    with pytest.raises(RefError):
        resolve(f"{ROOT}/v2.0/companies({CID})/customerPayments({PID})", FakeNavigation())


def test_endpoint_of_onprem_root() -> None:
    endpoint = endpoint_of("https://nav.contoso.com:7048/BC/api")
    assert endpoint.kind == "onprem" and endpoint.instance == "BC"
