"""viewer.copying: clipboard formats (pure text; no Qt application, no network)."""

from __future__ import annotations

import json
import re
import shlex
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from viewer.client import ResponseFacts
from viewer.copying import (
    Clip,
    age_text,
    curl_command,
    facts_clip,
    field_clip,
    powershell_command,
    record_json,
    record_lines,
    record_table,
)
from viewer.fields import FieldView

UNICODE = "Café Ñandú – 株式会社テスト – שלום עולם – مرحبا"
URL = "https://api.businesscentral.dynamics.com/v2.0/prod/api/v2.0/companies(1)/customerPayments?$filter=customerName eq 'O''Brien'&$top=5"  # noqa: E501


def fv(json_name: str, label: str, value: Any, display: str | None = None, raw: str | None = None) -> FieldView:
    blank = value is None or value == ""
    shown = "" if blank else (display if display is not None else str(value))
    return FieldView(
        json_name=json_name,
        label=label,
        kind="text",
        type_name="Text",
        group="General",
        value=value,
        display=shown,
        raw=raw if raw is not None else json.dumps(value, ensure_ascii=False),
        blank=blank,
        utc=None,
        accessible=f"{label}: {shown}",
    )


def facts(**overrides: Any) -> ResponseFacts:
    base: dict[str, Any] = {
        "method": "GET",
        "url": "https://bc.example/api/v2.0/customerPayments?$top=1",
        "status": 200,
        "elapsed_ms": 23.4,
        "fetched_at": datetime(2026, 11, 25, 10, 15, 3, tzinfo=UTC),
        "size": 1234,
        "attempts": 1,
        "client_request_id": "c-1",
        "request_id": "r-2",
        "correlation_id": "k-3",
        "etag": 'W/"JzQ0OzE7Jw=="',
    }
    base.update(overrides)
    return ResponseFacts(**base)


# --- module hygiene ----------------------------------------------------------------------------------------------


def test_module_does_not_import_qt() -> None:
    # A fresh interpreter: this test process may already have Qt loaded via viewer.fields.
    import subprocess

    code = "import sys, viewer.copying; print(any(m.startswith('PySide6') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- field_clip --------------------------------------------------------------------------------------------------


def test_field_display_raw_and_labels() -> None:
    f = fv("amount", "Amount", 1234.5, display="1,234.50", raw="1234.5")
    assert field_clip(f, "display") == Clip("1,234.50", label="Amount")
    assert field_clip(f, "raw") == Clip("1234.5", label="Amount (raw value)")
    pair = field_clip(f, "pair")
    assert pair.text == '"amount": 1234.5'
    assert pair.html is None
    assert pair.label


def test_field_display_blank_is_empty() -> None:
    f = FieldView("comment", "Comment", "text", "Text", "General", None, "(blank)", "null", True, None, "x")
    assert field_clip(f, "display").text == ""
    assert field_clip(f, "raw").text == "null"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("INV-001", '"code": "INV-001"'),
        ('say "hi"\n', '"code": "say \\"hi\\"\\n"'),
        (42, '"code": 42'),
        (-0.5, '"code": -0.5'),
        (None, '"code": null'),
        (True, '"code": true'),
        (False, '"code": false'),
        (UNICODE, f'"code": "{UNICODE}"'),
    ],
)
def test_field_pair(value: object, expected: str) -> None:
    text = field_clip(fv("code", "Code", value), "pair").text
    assert text == expected
    assert json.loads("{" + text + "}") == {"code": value}


def test_field_unknown_mode() -> None:
    with pytest.raises(ValueError):
        field_clip(fv("a", "A", 1), "bogus")  # type: ignore[arg-type]


# --- record_json -------------------------------------------------------------------------------------------------


def test_record_json_drops_odata_keeps_order_and_unicode() -> None:
    values = {
        "@odata.context": "https://x/$metadata#customerPayments/$entity",
        "@odata.etag": 'W/"1"',
        "zeta": 1,
        "customerName": UNICODE,
        "alpha": None,
        "customer@odata.navigationLink": "https://x/customer",
        "lines": [{"@odata.etag": "n", "n": 1}],
    }
    clip = record_json(values)
    assert "@odata" not in clip.text
    assert UNICODE in clip.text  # ensure_ascii=False
    assert list(json.loads(clip.text)) == ["zeta", "customerName", "alpha", "lines"]
    assert json.loads(clip.text)["lines"] == [{"n": 1}]
    assert clip.text.startswith('{\n  "zeta": 1')
    assert clip.label
    assert values["@odata.etag"] == 'W/"1"'  # input untouched


# --- record_lines ------------------------------------------------------------------------------------------------


def test_record_lines() -> None:
    fields = [
        fv("number", "No.", "G00001"),
        fv("comment", "Comment", None),
        fv("customerName", "Customer Name", UNICODE),
        fv("description", "Description", "two\nlines"),
        FieldView("@odata.etag", "ETag", "text", "Text", "System", "W/1", "W/1", "W/1", False, None, "ETag: W/1"),
    ]
    assert record_lines(fields).text == (
        f"No.: G00001\nComment: \nCustomer Name: {UNICODE}\nDescription: two lines\nETag: W/1"
    )


# --- record_table ------------------------------------------------------------------------------------------------


def test_record_table_html_escapes_and_text_format() -> None:
    fields = [
        fv("a<b", "R&D <x>", "5 < 6 & \"q\" 's'", display="5 < 6 & \"q\" 's'"),
        fv("id", "Id", "00000000-0000-0000-0000-000000000001"),
        fv("customerName", "Customer", UNICODE),
    ]
    clip = record_table(fields, title='Payment <"G1"> & co')
    h = clip.html
    assert h is not None
    assert h.startswith("<table>") and h.endswith("</table>")
    assert "<caption>Payment &lt;&quot;G1&quot;&gt; &amp; co</caption>" in h
    assert "<th>Field</th><th>Value</th><th>JSON name</th>" in h
    assert "<td>R&amp;D &lt;x&gt;</td>" in h
    assert "5 &lt; 6 &amp; &quot;q&quot; &#x27;s&#x27;" in h
    assert "<td>a&lt;b</td>" in h
    assert UNICODE in h
    # Every value cell is text-formatted for Excel; label and name cells are not.
    value_cells = re.findall(r"<td style=\"mso-number-format:'\\@'\">", h)
    assert len(value_cells) == 3
    assert h.count("<tr>") == 4
    # No raw markup from values survived.
    assert "<x>" not in h and '"q"' not in h


def test_record_table_no_title_no_caption() -> None:
    h = record_table([fv("a", "A", 1)]).html
    assert h is not None and "<caption>" not in h


def test_record_table_tsv_sanitised() -> None:
    fields = [
        fv("memo", "Memo\tLabel", "a\tb\nc\r\nd\re", display="a\tb\nc\r\nd\re"),
        fv("blank", "Blank", None),
        fv("customerName", "Customer", UNICODE),
    ]
    rows = record_table(fields).text.split("\n")
    assert rows[0] == "Field\tValue\tJSON name"
    assert rows[1] == "Memo Label\ta b c d e\tmemo"
    assert rows[2] == "Blank\t\tblank"
    assert rows[3] == f"Customer\t{UNICODE}\tcustomerName"
    assert len(rows) == 4
    assert all(r.count("\t") == 2 for r in rows)


# --- commands ----------------------------------------------------------------------------------------------------

_TOKENISH = re.compile(r"eyJ[A-Za-z0-9_-]{10,}|[A-Za-z0-9_\-]{40,}")


def _assert_no_secret(text: str) -> None:
    assert not _TOKENISH.search(text), text
    assert "password" not in text.lower()


def test_curl_bearer_quotes_url_for_posix() -> None:
    clip = curl_command(URL)
    assert clip.text.startswith('curl -sS -H "Authorization: Bearer $TOKEN" -H "Accept: application/json" \'')
    assert "$TOKEN" in clip.text
    _assert_no_secret(clip.text)
    # A POSIX shell hands curl the URL unchanged: $filter not expanded, quotes intact.
    argv = shlex.split(clip.text)
    assert argv[-1] == URL
    assert argv[:6] == ["curl", "-sS", "-H", "Authorization: Bearer $TOKEN", "-H", "Accept: application/json"]
    assert "'\"'\"'" in clip.text
    assert clip.label


def test_curl_basic_prompts_for_password() -> None:
    clip = curl_command(URL, auth="basic", user="o'neil@contoso.com")
    argv = shlex.split(clip.text)
    assert argv[:4] == ["curl", "-sS", "-u", "o'neil@contoso.com"]
    assert argv[-1] == URL
    assert "$TOKEN" not in clip.text and "Bearer" not in clip.text


def test_curl_basic_never_carries_a_password() -> None:
    argv = shlex.split(curl_command("https://x/a", auth="basic", user="admin:hunter2").text)
    assert argv[3] == "admin"
    assert "hunter2" not in " ".join(argv)
    assert shlex.split(curl_command("https://x/a", auth="basic").text)[3] == "USERNAME"


def test_commands_drop_password_in_url() -> None:
    url = "https://me:s3cret@bc.example:8443/api?$top=1"
    for text in (curl_command(url).text, powershell_command(url).text, facts_clip(facts(url=url)).text):
        assert "s3cret" not in text
        assert "https://me@bc.example:8443/api?$top=1" in text


def test_curl_globoff_only_when_needed() -> None:
    assert " -g " not in curl_command(URL).text
    argv = shlex.split(curl_command("https://x/a?$filter=x eq '{1}'").text)
    assert "-g" in argv


def test_unicode_url_preserved() -> None:
    url = f"https://x/customerPayments?$filter=customerName eq '{UNICODE}'"
    assert shlex.split(curl_command(url).text)[-1] == url
    assert UNICODE in powershell_command(url).text


def _ps_single_quoted_value(text: str, start: int) -> tuple[str, int]:
    """Parse a PowerShell single-quoted string starting at text[start] (a quote); return value and end index."""
    quotes = "'\u2018\u2019\u201a\u201b"
    assert text[start] in quotes
    out, i = [], start + 1
    while True:
        c = text[i]
        if c in quotes:
            if i + 1 < len(text) and text[i + 1] in quotes:
                out.append(text[i + 1])
                i += 2
                continue
            return "".join(out), i + 1
        out.append(c)
        i += 1


def test_powershell_bearer() -> None:
    clip = powershell_command(URL)
    prefix = "Invoke-RestMethod -Uri "
    assert clip.text.startswith(prefix + "'")
    value, end = _ps_single_quoted_value(clip.text, len(prefix))
    assert value == URL
    assert clip.text[end:] == " -Headers @{ Authorization = \"Bearer $TOKEN\"; Accept = 'application/json' }"
    assert "eq ''O''''Brien''&" in clip.text  # each ' doubled
    _assert_no_secret(clip.text)
    assert clip.label


def test_powershell_typographic_quotes_doubled() -> None:
    url = "https://x/a?$filter=name eq 'O\u2019Brien'"
    text = powershell_command(url).text
    assert "O\u2019\u2019Brien" in text
    assert _ps_single_quoted_value(text, len("Invoke-RestMethod -Uri "))[0] == url


def test_powershell_basic() -> None:
    text = powershell_command(URL, auth="basic", user="o'neil").text
    assert "-Credential (Get-Credential -UserName 'o''neil') -Authentication Basic" in text
    assert text.endswith("-Headers @{ Accept = 'application/json' }")
    assert "$TOKEN" not in text and "Bearer" not in text
    assert _ps_single_quoted_value(text, len("Invoke-RestMethod -Uri "))[0] == URL


def test_unknown_auth() -> None:
    with pytest.raises(ValueError):
        curl_command("https://x", auth="ntlm")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        powershell_command("https://x", auth="ntlm")  # type: ignore[arg-type]


# --- age_text ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (-3, "just now"),
        (float("nan"), "just now"),
        (0, "just now"),
        (4.99, "just now"),
        (5, "5 s ago"),
        (12.7, "12 s ago"),
        (59.99, "59 s ago"),
        (60, "1 min ago"),
        (3599, "59 min ago"),
        (3600, "1 h ago"),
        (86399, "23 h ago"),
        (86400, "1 day ago"),
        (2 * 86400 - 1, "1 day ago"),
        (2 * 86400, "2 days ago"),
        (3 * 86400 + 5, "3 days ago"),
        (float("inf"), "long ago"),
    ],
)
def test_age_text(seconds: float, expected: str) -> None:
    assert age_text(seconds) == expected


# --- facts_clip --------------------------------------------------------------------------------------------------


def test_facts_clip_full() -> None:
    f = facts(attempts=3)
    clip = facts_clip(f, now=f.fetched_at + timedelta(seconds=12))
    assert clip.text.split("\n") == [
        "Fetched: 2026-11-25 10:15:03 UTC (12 s ago)",
        "Request: GET https://bc.example/api/v2.0/customerPayments?$top=1",
        "Status: HTTP 200",
        "Latency: 23 ms",
        "Size: 1,234 bytes",
        "Attempts: 3",
        'ETag: W/"JzQ0OzE7Jw=="',
        "Request id: r-2",
        "Correlation id: k-3",
        "Client request id: c-1",
    ]
    assert clip.label


def test_facts_clip_minimal_and_converted_to_utc() -> None:
    cet = timezone(timedelta(hours=1))
    f = facts(
        fetched_at=datetime(2026, 11, 25, 11, 15, 3, tzinfo=cet),
        request_id=None,
        correlation_id=None,
        etag=None,
        client_request_id="",
        size=1,
        status=404,
    )
    text = facts_clip(f, now=datetime(2026, 11, 27, 10, 15, 3, tzinfo=UTC)).text
    assert text.split("\n") == [
        "Fetched: 2026-11-25 10:15:03 UTC (2 days ago)",
        "Request: GET https://bc.example/api/v2.0/customerPayments?$top=1",
        "Status: HTTP 404",
        "Latency: 23 ms",
        "Size: 1 byte",
    ]


def test_facts_clip_default_now() -> None:
    text = facts_clip(facts(fetched_at=datetime.now(UTC))).text
    assert "(just now)" in text.split("\n")[0]


# --- numbers stay numbers; timestamps stay whole (issue 13) --------------------------------------------------------


def typed(json_name: str, label: str, kind: str, value: Any, display: str, utc: str | None = None) -> FieldView:
    return FieldView(json_name, label, kind, kind.title(), "Payment", value, display, str(value), False, utc,
                     f"{label}: {display}")


@pytest.mark.parametrize("amount", [Decimal("10598.48"), 10598.48, "10598.48"])
def test_record_table_amount_is_a_numeric_cell(amount: object) -> None:
    # The issue-11 work makes amounts Decimal end to end; float (json.loads) and IEEE754 strings must work alike.
    fields = [
        typed("amount", "Amount", "decimal", amount, "10.598,48"),  # a German-formatted display
        typed("lineNumber", "Line No.", "int", 10000, "10000"),
        fv("documentNumber", "Document No.", "00123"),
    ]
    h = record_table(fields).html
    assert h is not None
    assert ('<td style="mso-number-format:\'\\#\\,\\#\\#0\\.00\';text-align:right" x:num="10598.48">10.598,48</td>'
            in h)
    assert '<td style="mso-number-format:\'0\';text-align:right" x:num="10000">10000</td>' in h
    # Text stays text: the document number keeps its leading zeros.
    assert "<td style=\"mso-number-format:'\\@'\">00123</td>" in h
    assert len(re.findall(r"x:num=", h)) == 2


def test_record_table_keeps_every_decimal_place_and_refuses_non_numbers() -> None:
    fields = [
        typed("discount", "Discount", "decimal", Decimal("0.125"), "0.125"),
        typed("amount", "Amount", "decimal", -1500, "-1,500.00"),
        typed("amount2", "Odd", "decimal", "n/a", "n/a"),
        typed("flag", "Flag", "int", True, "true"),
        typed("big", "Big", "decimal", float("inf"), "inf"),
    ]
    h = record_table(fields).html
    assert h is not None
    assert "\\.000';text-align:right\" x:num=\"0.125\">0.125<" in h
    assert 'x:num="-1500">-1,500.00<' in h
    assert len(re.findall(r"x:num=", h)) == 2  # "n/a", a bool and infinity stay text


def test_record_lines_keep_the_whole_timestamp() -> None:
    fields = [
        typed("lastModifiedDateTime", "Last Modified", "datetime", "2026-11-25T10:15:03.123Z", "25/11/2026 11:15",
              utc="2026-11-25T10:15:03.123Z"),
        typed("postingDate", "Posting Date", "date", "2026-11-25", "25/11/2026"),
    ]
    assert record_lines(fields).text == "Last Modified: 2026-11-25T10:15:03.123Z\nPosting Date: 25/11/2026"
