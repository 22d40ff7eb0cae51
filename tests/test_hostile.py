"""Every server is hostile (issue 11): a misbehaving server of our own (tests/hostile_server.py) against ``show`` and
the GUI's models. Each fault must end in a clean message and exit code, bounded memory, no traceback, no credential
at a foreign host, the last good data kept, and Watch still running.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import qasync
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile_server import BIG_AMOUNT, COMPANY, ESCAPES, PAYMENT, HostileServer, Reply, gzip_bomb, payment
from viewer import jsondata
from viewer.auth import BasicCredentials
from viewer.cli import main
from viewer.client import BcClient, Limits, RetryPolicy
from viewer.errors import (
    ApiError,
    BadId,
    DeadlineExceeded,
    ForeignUrl,
    InvalidJson,
    NetworkError,
    NotAnObject,
    Redirected,
    TooDeep,
    TooLarge,
    ViewerError,
    WrongContentType,
)
from viewer.loading import PaymentService
from viewer.models.paged import Column, PagedTableModel
from viewer.models.payment import LoadState, PaymentModel
from viewer.related import Related
from viewer.schema import GROUPS
from viewer.settings import DEADLINE_SECONDS, Settings
from viewer.watch import Watcher

ROOT = Path(__file__).resolve().parent.parent
USER, PASSWORD = "alice", "hunter2-secret"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
# The stall faults never answer: any deadline ends them, and each test waits it out (twice in the GUI test).
DEADLINE = 0.5
ROOMY = 60.0
STALLS = frozenset({"drip", "stall_before_headers", "stall_after_headers"})
FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05, max_total=1)
CUSTOMER_UPPER = "CCCCCCCC-0000-0000-0000-000000000001"
UNSAFE_ON_A_TERMINAL = ("\x1b", "\r", "\x00", "\u202e", "\x9b", "\x07")


@pytest.fixture(scope="module")
def foreign() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


@pytest.fixture(scope="module")
def server(foreign: HostileServer) -> Iterator[HostileServer]:
    with HostileServer(foreign_base=foreign.base) as server:
        yield server


@pytest.fixture(autouse=True)
def _password_and_a_clean_foreign_log(monkeypatch: pytest.MonkeyPatch, foreign: HostileServer) -> None:
    monkeypatch.setenv("BCPV_PASSWORD", PASSWORD)
    foreign.seen.clear()


def deadline_for(fault: str) -> float:
    """Short for the stalls (quick tests), roomy for the rest (a loaded machine must not turn them into stalls)."""
    return DEADLINE if fault in STALLS else ROOMY


def show(server: HostileServer, fault: str, fmt: str = "json") -> tuple[int, str, str]:
    # show reads its limits from settings.ini (README "Security"), like a user's own setting.
    settings_ = Settings()
    settings_.set(DEADLINE_SECONDS, deadline_for(fault))
    settings_.sync()
    out, err = io.StringIO(), io.StringIO()
    code = main(["show", server.url(fault), "--user", USER, "--format", fmt], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def assert_one_clean_line(err: str) -> None:
    assert err.endswith("\n") and len(err.splitlines()) == 1, repr(err)
    assert err.startswith("error: ") and "Traceback" not in err
    assert not any(char in err for char in UNSAFE_ON_A_TERMINAL), repr(err)
    assert PASSWORD not in err


# fault → (exit code, words the one stderr line must contain)
FAILURES: dict[str, tuple[int, str]] = {
    "nan": (5, "NaN, which is not a number"),
    "infinity": (5, "Infinity, which is not a number"),
    "huge_int": (5, "not valid JSON"),
    "deep_json": (5, "nested more than 64 levels"),
    "deep_inside": (5, "nested more than 64 levels"),
    "truncated_json": (5, "not valid JSON"),
    "invalid_json": (5, "not valid JSON"),
    "non_object": (5, "a list where a JSON object was expected"),
    "string_body": (5, "a string where a JSON object was expected"),
    "empty_200": (5, "not valid JSON"),
    "invalid_utf8": (5, "not UTF-8"),
    "duplicate_keys": (5, 'the field "amount" twice'),
    "html_200": (5, "a web page instead of"),
    "wrong_content_type": (5, "'application/octet-stream' content"),
    "error_code_newline": (5, "First line second line"),
    "redirect_302": (5, "redirected to http://127.0.0.1:"),
    "redirect_301": (5, "redirected to https://evil.example/login"),
    "retry_after_absurd": (5, "Too many requests"),
    "retry_after_date": (5, "temporarily unavailable"),
    "huge_headers": (5, "connection broke"),
    "big_plain": (5, "larger than the 5 MB limit"),
    "plain_50mb_chunked": (5, "larger than the 5 MB limit"),
    "drip": (5, f"did not finish answering within {DEADLINE:g} s"),
    "stall_before_headers": (5, f"did not finish answering within {DEADLINE:g} s"),
    "stall_after_headers": (5, f"did not finish answering within {DEADLINE:g} s"),
    "reset_mid_body": (5, "connection broke"),
}


@pytest.mark.parametrize("fault", sorted(FAILURES))
def test_show_turns_each_fault_into_one_clean_line(server: HostileServer, foreign: HostileServer,
                                                   fault: str) -> None:
    code, out, err = show(server, fault)
    expected_code, words = FAILURES[fault]
    assert (code, out) == (expected_code, "")
    assert_one_clean_line(err)
    assert words in err
    assert foreign.seen == []  # nothing, and so no credential, ever reached the other host


def test_redirect_names_its_target_and_is_not_followed(server: HostileServer, foreign: HostileServer) -> None:
    code, out, err = show(server, "redirect_302")
    assert code == 5 and "redirect body" not in out + err  # the 3xx body is not a payment
    assert f"{foreign.base}/BC/api/v2.0/stolen" in err
    assert foreign.seen == []


def test_error_code_with_line_breaks_and_escapes_stays_one_escaped_line(server: HostileServer) -> None:
    _code, _out, err = show(server, "error_code_newline")
    # Whitespace runs (the line breaks) fold into one space; everything else a terminal would act on is escaped.
    assert "Bad code\\x1b[2J: First line second line\\u202e" in err


def test_exact_decimal_in_json_and_table(server: HostileServer) -> None:
    code, out, err = show(server, "big_decimal")
    assert (code, err) == (0, "")
    assert f'"amount": {BIG_AMOUNT},' in out  # the server's digits, as a JSON number
    assert jsondata.loads(out)["amount"] == Decimal(BIG_AMOUNT)
    code, out, err = show(server, "big_decimal", "table")
    assert (code, err) == (0, "")
    amount_line = next(line for line in out.splitlines() if line.strip().startswith("Amount"))
    assert amount_line.rstrip().endswith("9,999,999,999,999,999.99") or amount_line.rstrip().endswith(
        "9999999999999999.99"), amount_line
    assert "1e+16" not in out and "10000000000000000" not in out


@pytest.mark.parametrize("fmt", ["json", "table"])
@pytest.mark.parametrize("fault", ["escape_values", "lone_surrogate", "unknown_fields", "wrong_types",
                                   "missing_fields", "id_injection"])
def test_odd_but_readable_records_print_safely(server: HostileServer, fault: str, fmt: str) -> None:
    code, out, err = show(server, fault, fmt)
    assert (code, err) == (0, "")
    assert not any(char in out for char in UNSAFE_ON_A_TERMINAL), repr(out)
    out.encode("utf-8")  # no lone surrogate left to crash a UTF-8 terminal
    if fmt == "json":
        data = json.loads(out)
        assert data["id"] == PAYMENT
        if fault == "escape_values":
            assert data["description"] == ESCAPES  # escaped for the terminal, still the exact value
        if fault == "lone_surrogate":
            assert data["description"].startswith("\ud800 lone")
    elif fault == "escape_values":
        assert "\\x1b]0;pwned\\x07\\x1b[2J\\r\\nFAKE: line\\x00\\u202etxt.exe\\x9b31m" in out
        assert not any(line.startswith("FAKE") for line in out.splitlines())


def test_show_survives_an_ascii_terminal(server: HostileServer) -> None:
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="ascii")
    err = io.StringIO()
    code = main(["show", server.url("unknown_fields"), "--user", USER, "--format", "json"], out=out, err=err)
    assert (code, err.getvalue()) == (0, "")
    text = raw.getvalue().decode("ascii")
    assert json.loads(text)["newField\x1b[2J"] == "x\u202ey"


def test_gzip_bomb_in_a_subprocess_stays_under_300_mb(server: HostileServer, _isolated_app_data: Path,
                                                       tmp_path: Path) -> None:
    """The real entry point on about 1 MB of gzip that inflates to 1 GiB: refused at the cap, memory bounded."""
    gzip_bomb()  # built before the clock starts (compressing 1 GiB takes seconds)
    env = {**os.environ, "BCPV_DATA_DIR": str(_isolated_app_data), "BCPV_PASSWORD": PASSWORD,
           "QT_QPA_PLATFORM": "offscreen"}
    with open(tmp_path / "out", "wb") as out, open(tmp_path / "err", "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "main.py"), "show", server.url("gzip_bomb"), "--user", USER],
            stdout=out, stderr=err, env=env, cwd=ROOT,
        )
        # wait4, not wait(): it reports this child's own peak resident set size (KiB on Linux).
        _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = (tmp_path / "err").read_text(encoding="utf-8")
    assert proc.returncode == 5, stderr
    assert (tmp_path / "out").read_bytes() == b""
    assert_one_clean_line(stderr)
    assert "larger than the 5 MB limit" in stderr
    assert usage.ru_maxrss < 300 * 1024, f"peak RSS {usage.ru_maxrss // 1024} MB"


# ---- through the GUI's models -------------------------------------------------------------------------------------


GUI_FAILURES: dict[str, type[ViewerError]] = {
    "nan": InvalidJson, "infinity": InvalidJson, "huge_int": InvalidJson, "deep_json": TooDeep,
    "deep_inside": TooDeep, "truncated_json": InvalidJson, "invalid_json": InvalidJson, "non_object": NotAnObject,
    "string_body": NotAnObject, "empty_200": InvalidJson, "invalid_utf8": InvalidJson, "duplicate_keys": InvalidJson,
    "html_200": WrongContentType, "wrong_content_type": WrongContentType, "redirect_302": Redirected,
    "redirect_301": Redirected, "big_plain": TooLarge, "plain_50mb_chunked": TooLarge, "gzip_bomb": TooLarge,
    "drip": DeadlineExceeded, "stall_before_headers": DeadlineExceeded, "stall_after_headers": DeadlineExceeded,
    "reset_mid_body": NetworkError, "huge_headers": NetworkError, "retry_after_absurd": ApiError,
    "error_code_newline": ApiError,
}


def _client(server: HostileServer) -> BcClient:
    client = BcClient(BasicCredentials(USER, PASSWORD), retry=FAST, limits=Limits(deadline=ROOMY))
    client.pin(server.base)  # what Connection does: credentials for the signed-in server only
    return client


def test_gui_model_keeps_last_good_data_and_watch_keeps_going(server: HostileServer, foreign: HostileServer,
                                                              qloop: qasync.QEventLoop) -> None:
    gzip_bomb()

    async def scenario() -> None:
        client = _client(server)
        service = PaymentService(client)
        model = PaymentModel(service)

        async def reload() -> None:
            coro = model.refresh()
            if coro is not None:
                await coro

        # Wired as ui/changes.py wires it: the record on screen, and the app's own reload.
        watcher = Watcher(service, lambda: None if model.state is LoadState.LOADING else model.record, reload,
                          interval=3600)
        watcher.start()
        try:
            url = server.url("gui")
            for fault, error in GUI_FAILURES.items():
                server.arm("gui", "ok")
                client.limits = Limits(deadline=ROOMY)
                record = await model.load(url)
                assert record is not None and model.state is LoadState.READY
                server.arm("gui", fault)
                client.limits = Limits(deadline=deadline_for(fault))
                coro = model.refresh()
                assert coro is not None and await coro is None, fault
                assert model.state is LoadState.FAILED, fault
                assert isinstance(model.error, error), (fault, model.error)
                assert model.record is not None and model.record.values["id"] == PAYMENT  # last good data stays
                assert model.stale
                assert await watcher.check() == "error", fault
                assert watcher.running and watcher.backoff > 0, fault  # still watching, less often
            server.arm("gui", "ok")
            await model.load(url)
            assert await watcher.check() == "same" and watcher.backoff == 0  # back to normal once answers are good
            assert foreign.seen == []
        finally:
            await watcher.aclose()
            await service.aclose()
            await client.aclose()

    qloop.run_until_complete(scenario())


def test_gui_model_shows_exact_and_odd_records(server: HostileServer, qloop: qasync.QEventLoop) -> None:
    async def scenario() -> None:
        client = _client(server)
        model = PaymentModel(PaymentService(client))
        try:
            record = await model.load(server.url("big_decimal"))
            assert record is not None and record.values["amount"] == Decimal(BIG_AMOUNT)
            shown = model.index(model.field_row("amount"), 1).data()
            assert shown.replace(",", "").replace("\u00a0", "").endswith(BIG_AMOUNT), shown
            assert f'"amount": {BIG_AMOUNT}' in record.as_json()
            for fault in ("escape_values", "lone_surrogate", "unknown_fields", "wrong_types", "missing_fields"):
                assert await model.load(server.url(fault)) is not None, fault
                assert model.state is LoadState.READY
        finally:
            await client.aclose()

    qloop.run_until_complete(scenario())


def test_related_ids_from_a_hostile_payment_are_never_pasted_into_paths(server: HostileServer,
                                                                         qloop: qasync.QEventLoop) -> None:
    async def scenario() -> None:
        client = _client(server)
        service = PaymentService(client)
        model = PaymentModel(service)
        related = Related(service)
        try:
            record = await model.load(server.url("id_injection"))
            assert record is not None
            before = len(server.seen)
            related.follow(record)
            await related.wait()
            assert related.urls == {"customer": None, "invoice": None, "journal": None}
            assert all("secret" not in seen.path for seen in server.seen[before:])
        finally:
            await client.aclose()

    qloop.run_until_complete(scenario())


def test_foreign_next_link_keeps_the_rows_and_never_sends_credentials(server: HostileServer, foreign: HostileServer,
                                                                      qloop: qasync.QEventLoop) -> None:
    list_url = server.url("foreign_next_link", f"companies({COMPANY})/customerPayments")

    async def scenario() -> None:
        client = _client(server)
        model = PagedTableModel(client, [Column("documentNumber", "No.")])
        errors: list[object] = []
        model.failed.connect(errors.append)
        try:
            await model.load(list_url)
            assert model.rowCount() == 3 and not model.canFetchMore()
            assert len(errors) == 1 and isinstance(errors[0], ForeignUrl)
            assert "another server (127.0.0.1)" in str(errors[0]) and "rows loaded so far" in str(errors[0])
            # The paging iterator: the first page arrives, then the refusal.
            pages = []
            with pytest.raises(ForeignUrl):
                async for page in client.iter_pages(list_url):
                    pages.append(page)
            assert [len(p.items) for p in pages] == [3]
            # Even asked directly, a pinned client refuses before it asks for credentials.
            with pytest.raises(ForeignUrl):
                await client.get_json(f"{foreign.base}/BC/api/v2.0/companies")
        finally:
            await client.aclose()
        assert foreign.seen == []

    qloop.run_until_complete(scenario())


def test_unpinned_client_still_refuses_a_next_link_elsewhere(server: HostileServer, foreign: HostileServer,
                                                             qloop: qasync.QEventLoop) -> None:
    async def scenario() -> None:
        client = BcClient(BasicCredentials(USER, PASSWORD), retry=FAST)
        try:
            page = await client.get_page(server.url("foreign_next_link", f"companies({COMPANY})/customerPayments"))
            assert page.next_link is None and isinstance(page.next_error, ForeignUrl) and len(page.items) == 3
        finally:
            await client.aclose()
        assert foreign.seen == []

    qloop.run_until_complete(scenario())


def test_bad_ids_are_refused_as_keys() -> None:
    from viewer import refs

    assert refs.key_segment("customers", CUSTOMER_UPPER) == f"customers({CUSTOMER_UPPER.lower()})"
    for bad in ("x)/../../secret?a=(", 12345, None, {"x": 1}, "1" * 100, "'; DROP"):
        with pytest.raises(BadId):
            refs.key_segment("customers", bad)


# ---- property: random server strings never break show's one line or its JSON -------------------------------------

ANY_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(code=ANY_TEXT, message=ANY_TEXT, value=ANY_TEXT)
def test_random_server_strings_keep_stderr_one_line_and_json_valid(server: HostileServer, code: str, message: str,
                                                                   value: str) -> None:
    server.custom = Reply(400, json.dumps({"error": {"code": code, "message": message}}).encode())
    status, out, err = show(server, "custom")
    assert status == 5 and out == ""
    assert_one_clean_line(err)

    server.custom = Reply(200, json.dumps(payment(description=value, **{f"x-{value}": value})).encode())
    for fmt in ("json", "table"):
        status, out, err = show(server, "custom", fmt)
        assert (status, err) == (0, "")
        assert not any(char in out for char in UNSAFE_ON_A_TERMINAL), repr(out)
        out.encode("utf-8")
        if fmt == "json":
            assert json.loads(out)["description"] == value
        else:
            # Every line is a group title, a field row or the blank line between groups: no value split a line.
            assert all(line in GROUPS or line.startswith("  ") or line == "" for line in out.splitlines()), out
