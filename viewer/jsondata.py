"""JSON in and out, exactly and safely: the one place the app parses or prints server JSON.

In: numbers with a fraction or exponent become ``Decimal`` (an accounting tool shows ``9999999999999999.99``, never
``1e+16``); NaN/Infinity, duplicated field names, invalid UTF-8 and nesting deeper than :data:`MAX_DEPTH` are
:class:`BadJson` — never a ``RecursionError`` (Python's parser recurses once per level) or a silently chosen value.
Out: :func:`dumps` writes those decimals back with the server's digits, and escapes inside strings the characters a
terminal or an editor would act on (C1 controls, bidi overrides, lone surrogates), so the text stays valid JSON with
the same value and is safe to print or paste.

Pure Python, no Qt: the client, the CLI, the copy formats and the history all use it.
"""

from __future__ import annotations

import json
import math
import re
from array import array
from collections.abc import Callable, Mapping
from decimal import Decimal
from itertools import accumulate
from typing import Any

__all__ = ["MAX_DEPTH", "BadJson", "dumps", "loads", "loads_object", "nesting_depth", "same_json"]

# Business Central answers nest a few levels ($expand of lines: about 5). 64 is far above that and far below
# Python's recursion limit (1000), which the C parser would otherwise hit as a RecursionError.
MAX_DEPTH = 64

# A JSON string literal (unrolled loop: linear, no backtracking on long strings).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_OPEN_CLOSE = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
# Inside a JSON string these are legal but act on whatever shows the text: C1 controls (U+009B is a CSI on some
# terminals), DEL, bidi embeddings/overrides/isolates (they reorder what follows), line/paragraph separators
# (line breaks in editors and old JavaScript), and lone surrogates (not encodable as UTF-8 at all).
# The CLI's terminal escaping (viewer/cli.py) uses the same class, plus the C0 controls JSON escapes anyway.
UNSAFE_CLASS = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE_IN_STRING = re.compile(f"[{UNSAFE_CLASS}]")


class BadJson(ValueError):
    """Why a body is not acceptable JSON. ``kind``: "invalid", "deep", "not-object", "constant" or "duplicate"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def nesting_depth(text: str) -> int:
    """How deeply ``text`` nests arrays and objects (brackets inside strings do not count); C-speed scans only."""
    if text.count("[") + text.count("{") <= 1:
        return 1 if ("[" in text or "{" in text) else 0
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if not brackets:
        return 0
    steps = array("b", brackets.encode("ascii").translate(_OPEN_CLOSE))
    return max(0, max(accumulate(steps)))


def _reject_constant(name: str) -> Any:
    raise BadJson("constant", f"The service sent {name}, which is not a number")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        twice = ""
        for name, _value in pairs:
            if name in seen:
                twice = name
                break
            seen.add(name)
        raise BadJson("duplicate", f"The service sent the field {_quoted(twice)} twice: no way to tell which counts")
    return result


def _quoted(name: str) -> str:
    shown = name if len(name) <= 40 else name[:39] + "…"
    return json.dumps(shown)  # escaped: the name came from the server


def loads(body: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``body`` (UTF-8, a BOM tolerated) exactly; :class:`BadJson` for anything that is not plain JSON."""
    if isinstance(body, bytes | bytearray | memoryview):
        try:
            text = bytes(body).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadJson("invalid", "The service sent text that is not UTF-8") from None
    else:
        text = body
    if nesting_depth(text) > max_depth:
        raise BadJson("deep", f"The service sent JSON nested more than {max_depth} levels deep")
    try:
        return json.loads(
            text, parse_float=Decimal, parse_constant=_reject_constant, object_pairs_hook=_unique_object
        )
    except BadJson:
        raise
    except RecursionError:  # unreachable below MAX_DEPTH; kept so no parser path can ever leak a traceback
        raise BadJson("deep", "The service sent JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and int() refusing more than 4300 digits
        raise BadJson("invalid", f"The service sent data that is not valid JSON ({_reason(exc)})") from None


def _reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at character {exc.pos}"
    return "a number too long to read"


def loads_object(body: bytes | str, *, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """:func:`loads`, and the top level must be an object (every Business Central answer is one)."""
    data = loads(body, max_depth=max_depth)
    if not isinstance(data, dict):
        kind = {list: "a list", str: "a string", bool: "true or false", type(None): "null"}.get(type(data), "a number")
        raise BadJson("not-object", f"The service sent {kind} where a JSON object was expected")
    return data


def _escape_unsafe(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _string(text: str) -> str:
    return _UNSAFE_IN_STRING.sub(_escape_unsafe, json.dumps(text, ensure_ascii=False))


def _number(value: Decimal | float) -> str:
    if isinstance(value, Decimal):
        if value.is_finite():
            return str(value)
    elif math.isfinite(value):
        return float.__repr__(value)
    raise ValueError(f"{value} has no JSON form")


def dumps(value: Any, *, indent: int | None = None, default: Callable[[Any], Any] | None = None) -> str:
    """``value`` as JSON text: Decimals with their exact digits, unsafe characters escaped (see module docstring).

    Formatted like ``json.dumps`` (``indent`` spaces per level, or one line with ", " and ": "); ``default`` turns
    other objects into something JSON has (``str`` when not given).
    """
    parts: list[str] = []
    _write(value, parts, indent, 0, default or str)
    return "".join(parts)


def _write(value: Any, out: list[str], indent: int | None, level: int, default: Callable[[Any], Any]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, Decimal | float):
        out.append(_number(value))
    elif isinstance(value, Mapping):
        items: list[tuple[str | None, Any]] = [(str(k), v) for k, v in value.items()]
        _container("{", "}", items, out, indent, level, default)
    elif isinstance(value, list | tuple):
        _container("[", "]", [(None, v) for v in value], out, indent, level, default)
    else:
        _write(default(value), out, indent, level, default)


def _container(open_: str, close: str, items: list[tuple[str | None, Any]], out: list[str], indent: int | None,
               level: int, default: Callable[[Any], Any]) -> None:
    if not items:
        out.append(open_ + close)
        return
    inner = "" if indent is None else "\n" + " " * (indent * (level + 1))
    out.append(open_)
    for index, (key, item) in enumerate(items):
        out.append(("," if indent is not None else ", ") if index else "")
        out.append(inner)
        if key is not None:
            out.append(_string(key) + ": ")
        _write(item, out, indent, level + 1, default)
    out.append("" if indent is None else "\n" + " " * (indent * level))
    out.append(close)


def same_json(old: Any, new: Any) -> bool:
    """The same JSON value, written the same way: of the same types all the way down (``True == 1`` in Python, not
    here), decimals with the same digits (``Decimal("1.0") == Decimal("1.00")`` in Python, not here) and objects'
    keys in the same order. What is the same by this test shows the same everywhere: the form keeps such a value's
    view (viewer/models/payment.py), and a comparison needs no rules of its own for it (viewer/snapshots.py)."""
    kind = type(new)
    if kind is not type(old):
        return False
    if kind is dict:
        return list(old) == list(new) and all(same_json(value, new[key]) for key, value in old.items())
    if kind is list:
        return len(old) == len(new) and all(map(same_json, old, new))
    if kind is Decimal:
        return str(old) == str(new)
    return bool(old == new)
