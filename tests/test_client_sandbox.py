"""BcClient end-to-end against the sandbox over loopback https: retries, faults, re-auth, paging."""

from __future__ import annotations

import asyncio

import pytest

from viewer import query
from viewer.auth import AppSession, BasicCredentials
from viewer.client import BcClient, RetryPolicy
from viewer.errors import ApiError, BadResponse, NetworkError, NotFound, SignInRequired
from viewer.sandbox import Sandbox

FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, max_total=10)


def payment_url(sandbox: Sandbox, root: str) -> str:
    return f"{root}/{sandbox.store().payment_path(sandbox.store().demo.payment_id)}"


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def _get(sandbox: Sandbox, url: str, policy: RetryPolicy = FAST) -> object:
    assert sandbox.info is not None
    creds = BasicCredentials(sandbox.info.basic["user"], sandbox.info.basic["password"])

    async def go() -> object:
        async with BcClient(creds, verify=sandbox.ssl_context(), retry=policy) as c:
            try:
                return await c.get_json(url)
            except Exception as exc:
                return exc

    return run(go())


def _onprem_payment(sandbox: Sandbox) -> str:
    assert sandbox.info is not None
    return payment_url(sandbox, sandbox.info.onprem_root + "/v2.0")


def test_get_payment_with_facts(sandbox: Sandbox) -> None:
    response = _get(sandbox, _onprem_payment(sandbox))
    data, facts = getattr(response, "data"), getattr(response, "facts")  # noqa: B009
    assert data["id"] == sandbox.store().demo.payment_id
    assert facts.status == 200 and facts.attempts == 1
    assert facts.etag and facts.etag == data["@odata.etag"]
    assert facts.request_id


@pytest.mark.parametrize("retry_after", ["1", None])
def test_429_then_success(sandbox: Sandbox, retry_after: str | None) -> None:
    sandbox.add_fault("status", "/customerPayments", status=429, retry_after=retry_after, count=2)
    response = _get(sandbox, _onprem_payment(sandbox))
    assert getattr(response, "facts").attempts == 3  # noqa: B009


def test_503_then_success(sandbox: Sandbox) -> None:
    sandbox.add_fault("status", "/customerPayments", status=503, count=1)
    result = _get(sandbox, _onprem_payment(sandbox))
    assert getattr(result, "facts").attempts == 2  # noqa: B009


def test_504_until_retries_are_exhausted(sandbox: Sandbox) -> None:
    sandbox.add_fault("status", "/customerPayments", status=504, count=None)
    result = _get(sandbox, _onprem_payment(sandbox))
    assert isinstance(result, ApiError) and result.status == 504
    assert result.correlation_id
    requests = sandbox.traffic.snapshot()["requests"]
    assert sum(n for p, n in requests.items() if p.endswith(")")) == FAST.attempts


def test_malformed_json_html_page_and_reset(sandbox: Sandbox) -> None:
    url = _onprem_payment(sandbox)
    sandbox.add_fault("invalid_json", "/customerPayments")
    assert isinstance(_get(sandbox, url), BadResponse)
    sandbox.add_fault("html", "/customerPayments", status=500)
    html = _get(sandbox, url)
    assert isinstance(html, BadResponse) and "web page" in str(html)
    # A reset connection and a truncated body are retried, then succeed.
    sandbox.add_fault("reset", "/customerPayments")
    sandbox.add_fault("truncate", "/customerPayments")
    ok = _get(sandbox, url)
    assert getattr(ok, "data")["id"] == sandbox.store().demo.payment_id  # noqa: B009
    sandbox.add_fault("reset", "/customerPayments", count=None)
    assert isinstance(_get(sandbox, url), NetworkError)


def test_not_found_after_posting_the_journal(sandbox: Sandbox) -> None:
    url = _onprem_payment(sandbox)
    store = sandbox.store()
    store.post_journal(store.demo.company_id, store.demo.journal_id)
    result = _get(sandbox, url)
    assert isinstance(result, NotFound)
    assert "posted or deleted" in str(result)
    assert result.code and result.correlation_id


def test_wrong_password_is_sign_in_required(sandbox: Sandbox) -> None:
    async def go() -> object:
        async with BcClient(BasicCredentials("ADMIN", "wrong"), verify=sandbox.ssl_context(), retry=FAST) as c:
            try:
                return await c.get_json(_onprem_payment(sandbox))
            except Exception as exc:
                return exc

    result = run(go())
    assert isinstance(result, SignInRequired)
    assert "wrong" not in str(result)


def test_cancellation_mid_request_leaves_the_client_usable(sandbox: Sandbox) -> None:
    url = _onprem_payment(sandbox)
    sandbox.add_fault("latency", "/customerPayments", latency_ms=3000)
    assert sandbox.info is not None
    creds = BasicCredentials(sandbox.info.basic["user"], sandbox.info.basic["password"])

    async def go() -> object:
        async with BcClient(creds, verify=sandbox.ssl_context(), retry=FAST) as c:
            task = asyncio.ensure_future(c.get_json(url))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return await c.get_json(url)

    assert getattr(run(go()), "data")["id"] == sandbox.store().demo.payment_id  # noqa: B009


def test_filter_with_quotes_reaches_the_sandbox_intact(sandbox: Sandbox) -> None:
    store = sandbox.store()
    customer = store.customer(store.demo.quote_customer_id)
    assert customer is not None and "'" in customer["displayName"]
    assert sandbox.info is not None
    url = f"{sandbox.info.onprem_root}/v2.0/companies({store.demo.company_id})/customers"
    flt = query.eq("displayName", customer["displayName"])
    creds = BasicCredentials(sandbox.info.basic["user"], sandbox.info.basic["password"])

    async def go() -> list[dict[str, object]]:
        async with BcClient(creds, verify=sandbox.ssl_context(), retry=FAST) as c:
            page = await c.get_page(url, params={"$filter": str(flt)})
            injected = await c.get_page(url, params={"$filter": str(query.eq("displayName", "x' or 1 eq 1 or 'y"))})
            assert injected.items == []
            return page.items

    items = run(go())
    assert [i["id"] for i in items] == [customer["id"]]


def test_paging_iterator_collects_every_row_once(sandbox: Sandbox) -> None:
    store = sandbox.store()
    assert sandbox.info is not None
    url = f"{sandbox.info.onprem_root}/v2.0/companies({store.demo.company_id})/customerPaymentJournals" \
          f"({store.demo.journal_id})/customerPayments"
    creds = BasicCredentials(sandbox.info.basic["user"], sandbox.info.basic["password"])

    async def go() -> list[str]:
        ids: list[str] = []
        async with BcClient(creds, verify=sandbox.ssl_context(), retry=FAST) as c:
            async for page in c.iter_pages(url, page_size=7):
                ids += [str(i["id"]) for i in page.items]
        return ids

    ids = run(go())
    expected = [p["id"] for p in store.journal_payments(store.demo.journal_id)]
    assert len(ids) == len(expected) > 7
    assert sorted(ids) == sorted(expected) and len(set(ids)) == len(ids)


def test_cloud_route_with_service_principal_and_silent_reauth(sandbox: Sandbox) -> None:
    """401 for an expired token → one silent refresh → success, on the cloud path."""
    assert sandbox.info is not None and sandbox.identity is not None
    sp = sandbox.info.service_principal
    app = AppSession(client_id=sp["client_id"], client_secret=sp["client_secret"],
                     authority=sandbox.info.authority, verify=sandbox.ssl_context())
    url = payment_url(sandbox, sandbox.info.api_root + "/v2.0")

    async def go() -> tuple[object, object]:
        async with BcClient(app, verify=sandbox.ssl_context(), retry=FAST) as c:
            first = await c.get_json(url)
            sandbox.identity.expire_all_tokens()  # type: ignore[union-attr]
            second = await c.get_json(url)
            return first, second

    first, second = run(go())
    assert getattr(first, "data")["id"] == getattr(second, "data")["id"]  # noqa: B009
    assert getattr(second, "facts").attempts == 2  # noqa: B009
    app.close()
