"""Qt's INI dialect (``QSettings.IniFormat``) read and written in plain Python.

The settings file is shared by the window and the terminal command; this lets ``show`` read profiles
without importing Qt (~110 ms) while the file stays exactly what ``QSettings`` reads and writes: keys
``section/name`` (``[section]``, sub-keys joined by ``\\``, other characters as ``%XX``), strings with
C-style escapes and quotes around ``,;=`` or edge spaces, ``@`` doubled, bytes as ``@ByteArray(…)``,
booleans as ``true``/``false``. ``tests/test_profiles_settings.py`` round-trips both ways against QSettings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

Value = str | bytes | list[str]

_GENERAL = "General"  # Qt's section for keys without one
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.\-]")
_NAMED = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
          '"': '"', "'": "'", "?": "?", "\\": "\\", ";": ";", ",": ",", "\n": ""}
_WRITE_NAMED = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
                '"': '\\"', "\\": "\\\\"}
_HEX = "0123456789abcdefABCDEF"
_SPACE = " \t\r\n\f\v"  # ASCII only, as Qt trims: U+0085 and U+00A0 are values


# ---- keys ------------------------------------------------------------------------------------------


def _escape_key(key: str) -> str:
    out: list[str] = []
    for ch in key:
        if ch == "/":
            out.append("\\")
        elif ch.isascii() and _PLAIN_KEY.match(ch):
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"%{ord(ch):02X}")
        else:
            out.append(f"%U{ord(ch):04X}")
    return "".join(out)


def _unescape_key(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            out.append("/")
        elif ch == "%" and text[i + 1:i + 2] == "U" and len(text) >= i + 6:
            out.append(chr(int(text[i + 2:i + 6], 16)))
            i += 5
        elif ch == "%" and len(text) >= i + 3 and all(c in _HEX for c in text[i + 1:i + 3]):
            out.append(chr(int(text[i + 1:i + 3], 16)))
            i += 2
        else:
            out.append(ch)
        i += 1
    return "".join(out)


# ---- values ----------------------------------------------------------------------------------------


def _escape_text(text: str, *, raw_bytes: bool) -> str:
    """One string in Qt's escaping; ``raw_bytes``: a ``@ByteArray`` body, whose bytes above 0x7E become \\xHH."""
    out: list[str] = []
    quote = False
    after_number = False  # \\0 or \\xHH just written: a following hex digit must not join it
    for ch in text:
        if ch in ";,=":
            quote = True
        if after_number and ch in _HEX:
            out.append(f"\\x{ord(ch):x}")
            continue
        after_number = False
        if ch == "\0":
            out.append("\\0")
            after_number = True
        elif ch in _WRITE_NAMED:
            out.append(_WRITE_NAMED[ch])
        elif ord(ch) <= 0x1F or (ord(ch) >= 0x7F and raw_bytes):
            out.append(f"\\x{ord(ch):x}")
            after_number = True
        else:
            out.append(ch)
    body = "".join(out)
    if quote or body[:1] == " " or body[-1:] == " ":
        body = f'"{body}"'
    return body


def encode(value: Value | bool | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)  # as Qt writes numbers: 45, 0.5, 1e-07
    if isinstance(value, bytes):
        return _escape_text(f"@ByteArray({value.decode('latin-1')})", raw_bytes=True)
    if isinstance(value, list):  # only kept as found (another program's list): the app stores JSON text
        return ", ".join(_escape_text("@" + v if v.startswith("@") else v, raw_bytes=False) for v in value)
    return _escape_text("@" + value if value.startswith("@") else value, raw_bytes=False)


def _unescape(text: str) -> list[str]:
    """Qt's iniUnescapedStringList: quotes, escapes, and unquoted commas separating list items."""
    items: list[str] = []
    current: list[str] = []
    in_quotes = False
    is_list = False
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            in_quotes = not in_quotes
            i += 1
        elif ch == "\\" and i + 1 < n:
            nxt = text[i + 1]
            if nxt in _NAMED:
                current.append(_NAMED[nxt])
                i += 2
            elif nxt in "xX":
                j = i + 2
                while j < n and text[j] in _HEX:
                    j += 1
                current.append(chr(int(text[i + 2:j], 16)) if j > i + 2 else "")
                i = j
            elif nxt in "01234567":
                j = i + 1
                while j < n and text[j] in "01234567":
                    j += 1
                current.append(chr(int(text[i + 1:j], 8)))
                i = j
            else:  # an unknown escape keeps its character
                current.append(nxt)
                i += 2
        elif ch == "," and not in_quotes:
            is_list = True
            items.append("".join(current).rstrip(_SPACE))
            current = []
            i += 1
            while i < n and text[i] in " \t":
                i += 1
        else:
            current.append(ch)
            i += 1
    items.append("".join(current))
    return items if is_list else items[:1]


def decode(text: str) -> Value | None:
    items = _unescape(text)
    if len(items) > 1:
        return [str(_decode_one(item)) for item in items]
    return _decode_one(items[0])


def _decode_one(text: str) -> Value | None:
    if not text.startswith("@"):
        return text
    if text.startswith("@ByteArray(") and text.endswith(")"):
        return text[len("@ByteArray("):-1].encode("latin-1", errors="replace")
    if text == "@Invalid()":
        return None
    if text.startswith("@@"):
        return text[1:]
    return text  # @Variant(…), @Rect(…): types this app never writes; kept as text


# ---- files -----------------------------------------------------------------------------------------


def parse(text: str) -> dict[str, Value]:
    """``{"section/key": value}`` from an INI text (later duplicates win, as in QSettings)."""
    values: dict[str, Value] = {}
    section = ""
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        while line.endswith("\\") and not line.endswith("\\\\") and i < len(lines):  # a continued line
            line = line[:-1] + lines[i]
            i += 1
        stripped = line.strip(_SPACE)
        if not stripped or stripped[0] in ";#":
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            name = _unescape_key(stripped[1:-1].strip(_SPACE))
            section = "" if name.lower() == _GENERAL.lower() else name
            continue
        key, sep, raw = stripped.partition("=")
        if not sep:
            continue
        value = decode(raw.strip(_SPACE))
        if value is None:
            continue
        name = _unescape_key(key.strip(_SPACE))
        values[f"{section}/{name}" if section else name] = value
    return values


def render(values: Iterable[tuple[str, Value | bool | float]]) -> str:
    """An INI text QSettings reads back to the same values, sections in first-seen order."""
    sections: dict[str, list[str]] = {}
    for key, value in values:
        section, _, name = key.partition("/") if "/" in key else (_GENERAL, "", key)
        sections.setdefault(section, []).append(f"{_escape_key(name)}={encode(value)}")
    out: list[str] = []
    for section, lines in sections.items():
        if out:
            out.append("")
        out.append(f"[{_escape_key(section)}]")
        out.extend(lines)
    return "\n".join(out) + "\n" if out else ""
