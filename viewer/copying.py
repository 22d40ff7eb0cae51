"""Clipboard contents for "Copy …" actions: plain values, whole records, commands, request facts.

Pure functions only: the UI turns a ``Clip`` into ``QMimeData``. Nothing here imports Qt, so the formats can be
tested (and reused by the CLI) without a QApplication. Nothing copied ever carries a secret: commands use the
``$TOKEN`` placeholder or make the tool prompt for the password, and credentials embedded in a URL are dropped.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit, urlunsplit

from viewer import jsondata, odata

if TYPE_CHECKING:
    # Type-only: viewer.fields pulls in QtCore (QLocale) and viewer.client pulls in httpx; neither is needed to
    # format text, and importing them here would break the "no Qt" promise at runtime.
    from viewer.client import ResponseFacts
    from viewer.fields import FieldView

__all__ = [
    "Auth",
    "Clip",
    "CopyMode",
    "age_text",
    "curl_command",
    "facts_clip",
    "field_clip",
    "powershell_command",
    "record_json",
    "record_lines",
    "record_table",
]

CopyMode = Literal["display", "raw", "pair"]
Auth = Literal["bearer", "basic"]

# Shown in commands instead of a real credential; the person sets it in their shell first.
TOKEN_PLACEHOLDER = "$TOKEN"
USER_PLACEHOLDER = "USERNAME"

# Every character that would start a new cell or row when a spreadsheet parses tab-separated text.
_TSV_BREAKS = re.compile(r"\r\n|[\t\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
# Line breaks that would split one "Label: value" line into several.
_LINE_BREAKS = re.compile(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
# PowerShell treats the typographic single quotes as string delimiters too, so they need doubling as well.
_PS_SINGLE_QUOTES = re.compile("(['\u2018\u2019\u201a\u201b])")
# curl expands {a,b} and [1-9] in URLs unless globbing is switched off.
_CURL_GLOB = re.compile(r"[\[\]{}]")


@dataclass(frozen=True)
class Clip:
    """One clipboard payload: plain text always, HTML when a rich target (Excel, Outlook) can use it."""

    text: str
    html: str | None = None
    label: str = ""


# --- single field ------------------------------------------------------------------------------------------------


def field_clip(field: FieldView, mode: CopyMode) -> Clip:
    """The field as shown, as its JSON literal, or as a ``"name": value`` pair ready to paste into JSON."""
    if mode == "display":
        return Clip("" if field.blank else field.display, label=field.label)
    if mode == "raw":
        return Clip(field.raw, label=f"{field.label} (raw value)")
    if mode == "pair":
        # dumps on the name too: a name needing escapes still yields valid JSON.
        pair = f"{jsondata.dumps(field.json_name)}: {jsondata.dumps(field.value)}"
        return Clip(pair, label=f"{field.label} (JSON pair)")
    raise ValueError(f"unknown copy mode: {mode!r}")


# --- whole record ------------------------------------------------------------------------------------------------


def record_json(values: Mapping[str, object]) -> Clip:
    """The record's own fields as pretty JSON, in the order the server sent them."""
    # Annotations are transport metadata, not data a person wants to paste (viewer/odata.py strips every level).
    text = jsondata.dumps(odata.strip(values), indent=2)  # exact decimals: the digits the server sent
    return Clip(text, label="Record (JSON)")


def _one_line(text: str) -> str:
    return _LINE_BREAKS.sub(" ", text)


def _line_value(field: FieldView) -> str:
    if field.blank:
        return ""
    # The form's short local time drops the seconds and the zone; a ticket or e-mail needs the exact moment, so
    # date-times go out as the full UTC timestamp (seconds, milliseconds when present, "Z").
    if field.kind == "datetime" and field.utc:
        return field.utc
    return _one_line(field.display)


def record_lines(fields: Sequence[FieldView]) -> Clip:
    """``Label: value`` per field, for pasting into an e-mail or ticket; the ETag row stays (useful to support)."""
    lines = [f"{f.label}: {_line_value(f)}" for f in fields]
    return Clip("\n".join(lines), label="Record (text)")


def _tsv_cell(text: str) -> str:
    return _TSV_BREAKS.sub(" ", text)


def _number(field: FieldView) -> Decimal | None:
    """The exact number behind a decimal or integer field (int, float, Decimal or a numeric string), else None."""
    if field.blank or field.kind not in ("decimal", "int"):
        return None
    raw = field.value
    if isinstance(raw, bool):
        return None
    try:
        # repr(): a float's shortest round-tripping text, i.e. what the JSON said (1500.5, not 1500.4999…).
        number = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


# Excel would otherwise turn GUIDs into numbers, "1-2" into dates and drop leading zeros of document numbers: the
# mso number format '@' means "text". The backslash escapes '@' inside the CSS string, as Excel writes it.
_TEXT_STYLE = "mso-number-format:'\\@'"


def _value_cell(field: FieldView) -> str:
    number = _number(field)
    if number is None:
        return f'<td style="{_TEXT_STYLE}">{_esc("" if field.blank else field.display)}</td>'
    # A number stays a number: x:num carries the exact value (locale-independent, so Excel can sum it whatever its
    # own decimal separator), the cell text is the form's locale-formatted display for Outlook and Word, and the
    # number format keeps the decimals shown (Line No. ungrouped, as in the form).
    fmt = "0"
    if field.kind == "decimal":
        exponent = number.normalize().as_tuple().exponent
        places = max(2, -exponent) if isinstance(exponent, int) else 2
        fmt = "\\#\\,\\#\\#0\\." + "0" * places
    style = f"mso-number-format:'{fmt}';text-align:right"
    return f'<td style="{style}" x:num="{number:f}">{_esc(field.display)}</td>'


def record_table(fields: Sequence[FieldView], title: str = "") -> Clip:
    """The record as a three-column table: HTML for Excel/Outlook/Word, TSV for plain-text targets.

    Amounts and line numbers are numeric cells (Excel can sum them); everything else is a text cell."""
    header = ("Field", "Value", "JSON name")
    rows = [(f.label, "" if f.blank else f.display, f.json_name) for f in fields]

    tsv = "\n".join("\t".join(_tsv_cell(cell) for cell in row) for row in [header, *rows])

    parts = ["<table>"]
    if title:
        parts.append(f"<caption>{_esc(title)}</caption>")
    parts.append("<tr>" + "".join(f"<th>{_esc(h)}</th>" for h in header) + "</tr>")
    for field in fields:
        parts.append(f"<tr><td>{_esc(field.label)}</td>{_value_cell(field)}<td>{_esc(field.json_name)}</td></tr>")
    parts.append("</table>")
    return Clip(tsv, html="\n".join(parts), label=f"{title} (table)" if title else "Record (table)")


# --- commands ----------------------------------------------------------------------------------------------------


def _safe_url(url: str) -> str:
    # A URL pasted with "user:password@" in it must not leak the password into a command or a ticket.
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal: urlsplit drops the brackets
        host = f"[{host}]"
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _user_name(user: str) -> str:
    # Basic auth cannot carry a ':' in the user id (RFC 7617); anything after one would be read as the password.
    name = user.split(":", 1)[0].strip()
    return name or USER_PLACEHOLDER


def _posix_quote(text: str) -> str:
    # Single quotes make $filter, & and spaces literal; a ' itself is closed, emitted double-quoted, reopened.
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _ps_quote(text: str) -> str:
    # Single-quoted PowerShell strings do no $ interpolation ($filter, $top stay literal); quotes are doubled.
    return "'" + _PS_SINGLE_QUOTES.sub(r"\1\1", text) + "'"


def curl_command(url: str, *, auth: Auth = "bearer", user: str = "") -> Clip:
    """A curl command repeating the GET; the token is the ``$TOKEN`` shell variable, a password is prompted for."""
    safe = _safe_url(url)
    # -g only when needed, so the common command stays the familiar short one.
    glob = " -g" if _CURL_GLOB.search(safe) else ""
    if auth == "bearer":
        cred = f'-H "Authorization: Bearer {TOKEN_PLACEHOLDER}"'
    elif auth == "basic":
        # -u with no ":password" makes curl prompt, so the password never sits in shell history.
        cred = f"-u {_posix_quote(_user_name(user))}"
    else:
        raise ValueError(f"unknown auth: {auth!r}")
    text = f'curl -sS{glob} {cred} -H "Accept: application/json" {_posix_quote(safe)}'
    return Clip(text, label="curl command")


def powershell_command(url: str, *, auth: Auth = "bearer", user: str = "") -> Clip:
    """An Invoke-RestMethod command repeating the GET; the token is ``$TOKEN``, a password comes from Get-Credential."""
    uri = _ps_quote(_safe_url(url))
    if auth == "bearer":
        # Double-quoted on purpose: PowerShell substitutes the person's own $TOKEN variable here.
        text = (
            f'Invoke-RestMethod -Uri {uri} -Headers @{{ Authorization = "Bearer {TOKEN_PLACEHOLDER}"; '
            "Accept = 'application/json' }"
        )
    elif auth == "basic":
        text = (
            f"Invoke-RestMethod -Uri {uri} -Credential (Get-Credential -UserName {_ps_quote(_user_name(user))}) "
            "-Authentication Basic -Headers @{ Accept = 'application/json' }"
        )
    else:
        raise ValueError(f"unknown auth: {auth!r}")
    return Clip(text, label="PowerShell command")


# --- request facts -----------------------------------------------------------------------------------------------


def age_text(seconds: float) -> str:
    """A coarse, human age: precise enough to tell "stale" from "fresh" without ticking every second."""
    # Clock skew can make the age negative; NaN would break the comparisons below. Both read as "now".
    if math.isnan(seconds) or seconds < 5:
        return "just now"
    if seconds < 60:
        return f"{int(seconds)} s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    if math.isinf(seconds):
        return "long ago"
    days = int(seconds // 86400)
    return f"{days} day ago" if days == 1 else f"{days} days ago"


def facts_clip(facts: ResponseFacts, *, now: datetime | None = None) -> Clip:
    """What support needs to find the request in telemetry, one fact per line; missing facts are left out."""
    fetched = facts.fetched_at
    if fetched.tzinfo is None:  # the client always stamps UTC; be tolerant of a naive stamp rather than crash
        fetched = fetched.replace(tzinfo=UTC)
    fetched = fetched.astimezone(UTC)
    current = now if now is not None else datetime.now(UTC)
    if current.tzinfo is None:
        current = current.replace(tzinfo=UTC)
    age = (current - fetched).total_seconds()

    size = f"{facts.size:,} byte" if facts.size == 1 else f"{facts.size:,} bytes"
    lines = [
        f"Fetched: {fetched:%Y-%m-%d %H:%M:%S} UTC ({age_text(age)})",
        f"Request: {facts.method.upper()} {_safe_url(facts.url)}",
        f"Status: HTTP {facts.status}",
        f"Latency: {round(facts.elapsed_ms)} ms",
        f"Size: {size}",
    ]
    if facts.attempts > 1:
        lines.append(f"Attempts: {facts.attempts}")
    for name, value in (
        ("ETag", facts.etag),
        ("Request id", facts.request_id),
        ("Correlation id", facts.correlation_id),
        ("Client request id", facts.client_request_id),
    ):
        if value:
            lines.append(f"{name}: {value}")
    return Clip("\n".join(lines), label="Request details")
