"""OData query options evaluated over the sandbox's dict records, the way Business Central answers them.

``$filter`` is parsed by odata-query's grammar (no hand-written parser) and compiled here into a Python
predicate, typed by the entity's properties: decimals compare as numbers, GUIDs case-insensitively, dates
as dates. ``$select``, ``$orderby``, ``$top``, ``$skip``, ``$expand``, ``$count`` and server-driven paging
with an opaque ``$skiptoken`` complete it. Every problem is an ``ODataError`` (a 400 with a BC-like
message), never an unhandled exception.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from odata_query import ast
from odata_query.exceptions import (
    ODataException,
    ParsingException,
    TokenizingException,
    UnknownFunctionException,
)
from odata_query.grammar import _TIME, ODataLexer, ODataParser
from sly.lex import Token

SERVER_MAX_PAGE_SIZE = 20_000  # Business Central online (SPEC §5.3)

Record = Mapping[str, Any]
Predicate = Callable[[Record], bool]
Getter = Callable[[Record], Any]

_EDM = {
    "guid": "Edm.Guid", "string": "Edm.String", "enum": "Edm.String", "int": "Edm.Int32", "int64": "Edm.Int64",
    "decimal": "Edm.Decimal", "date": "Edm.Date", "datetime": "Edm.DateTimeOffset", "bool": "Edm.Boolean",
    "collection": "Collection", "complex": "Complex", "null": "null",
}
_NUMERIC = frozenset({"int", "int64", "decimal"})
_TEXT = frozenset({"string", "enum"})
_OPERATOR_NAMES = {
    ast.Eq: "Equal", ast.NotEq: "NotEqual", ast.Lt: "LessThan", ast.LtE: "LessThanOrEqual",
    ast.Gt: "GreaterThan", ast.GtE: "GreaterThanOrEqual", ast.In: "In",
}
_MIN_DATETIME = datetime.min.replace(tzinfo=UTC)


class ODataError(Exception):
    """A request Business Central would refuse; ``status``/``code``/``message`` make the BC error body."""

    def __init__(self, message: str, *, status: int = 400, code: str = "BadRequest",
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class Prop:
    kind: str  # guid, string, enum, int, int64, decimal, date, datetime, bool, collection, complex, stream
    max_length: int | None = None
    read_only: bool = False
    type_name: str | None = None  # the EnumType or ComplexType (of the collection) for enum/complex/collection


@dataclass(frozen=True)
class EntityType:
    """An entity's JSON properties (in response order) and navigation properties.

    ``many`` names the collection-valued navigations; the others lead to one entity (or none).
    """

    name: str
    props: Mapping[str, Prop]
    navigations: Mapping[str, EntityType] = field(default_factory=dict)
    many: frozenset[str] = frozenset()
    key: tuple[str, ...] = ("id",)

    @property
    def qualified(self) -> str:
        return f"Microsoft.NAV.{self.name}"

    def unknown(self, name: str) -> ODataError:
        return ODataError(f"Could not find a property named '{name}' on type '{self.qualified}'.")

    def prop(self, name: str) -> Prop:
        found = self.props.get(name)
        if found is None:
            raise self.unknown(name)
        return found


# ---- $filter ---------------------------------------------------------------------------------------

_ANY_YEAR_DATE = r"\d{4}-(?:0\d|1[0-2])-(?:[0-2]\d|3[01])"
_TokenRule = Callable[[Any, Token], Token]


def _token(pattern: str) -> Callable[[_TokenRule], _TokenRule]:
    """sly's ``@_(pattern)``: sly treats any lexer method with a ``pattern`` attribute as a token rule."""

    def decorate(func: _TokenRule) -> _TokenRule:
        func.pattern = pattern  # type: ignore[attr-defined]
        return func

    return decorate


class _Lexer(ODataLexer):
    """odata-query's lexer, but accepting year 0001: Business Central's blank date is ``0001-01-01``."""

    tokens = ODataLexer.tokens

    @_token(_ANY_YEAR_DATE + r"T" + _TIME + r"?(Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?")
    def DATETIME(self, t: Token) -> Token:
        t.value = ast.DateTime(t.value)
        return t

    @_token(_ANY_YEAR_DATE)
    def DATE(self, t: Token) -> Token:
        t.value = ast.Date(t.value)
        return t



@dataclass(frozen=True)
class CompiledFilter:
    """A ``$filter`` ready to run: the predicate, the properties it reads and its top-level ``eq`` terms."""

    text: str
    predicate: Predicate
    fields: frozenset[str]
    equals: Mapping[str, Any]  # property → normalised literal, for AND-ed ``prop eq literal`` terms


@dataclass(frozen=True)
class _Value:
    kind: str
    get: Getter
    literal: ast._Node | None = None  # set when the value is a literal (coerced once the other side is known)
    fields: frozenset[str] = frozenset()


def parse_filter(text: str, etype: EntityType) -> CompiledFilter:
    try:
        tree = ODataParser().parse(_Lexer().tokenize(text))
    except TokenizingException as exc:
        raise ODataError(f"Syntax error at position {getattr(exc.token, 'index', 0)} in '{text}'.") from exc
    except ParsingException as exc:
        position = len(text) if exc.eof or exc.token is None else getattr(exc.token, "index", 0)
        raise ODataError(f"Syntax error at position {position} in '{text}'.") from exc
    except UnknownFunctionException as exc:
        raise _FilterCompiler.unknown_function(exc.function_name) from exc
    except ODataException as exc:
        raise ODataError(f"Invalid filter expression '{text}': {exc}") from exc
    except (ValueError, TypeError, IndexError) as exc:  # odata-query converting a malformed literal
        raise ODataError(f"Invalid filter expression '{text}': {exc}") from exc
    if tree is None:
        raise ODataError(f"Syntax error at position 0 in '{text}'.")
    compiler = _FilterCompiler(etype)
    predicate, fields = compiler.boolean(tree)
    return CompiledFilter(text, predicate, fields, compiler.top_level_equals(tree))


class _FilterCompiler:
    def __init__(self, etype: EntityType) -> None:
        self.etype = etype

    # -- booleans --

    def boolean(self, node: ast._Node) -> tuple[Predicate, frozenset[str]]:
        if isinstance(node, ast.BoolOp):
            left, lf = self.boolean(node.left)
            right, rf = self.boolean(node.right)
            if isinstance(node.op, ast.Or):
                if len(lf | rf) > 1:
                    raise ODataError(
                        "The 'OR' operator is not supported on distinct fields. Combine conditions on the same "
                        f"field with 'or', or send one request per field ({', '.join(sorted(lf | rf))})."
                    )
                return (lambda r: left(r) or right(r)), lf | rf
            return (lambda r: left(r) and right(r)), lf | rf
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner, fields = self.boolean(node.operand)
            return (lambda r: not inner(r)), fields
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.predicate_call(node)
        if isinstance(node, ast.Boolean):
            raise ODataError("A constant 'true' or 'false' is not a filter on any property.")
        if isinstance(node, ast.Identifier):
            value = self.value(node)
            if value.kind != "bool":
                raise ODataError(f"The $filter expression must evaluate to a single boolean value: '{node.name}'.")
            return (lambda r: bool(value.get(r))), value.fields
        raise self.unsupported(node)

    def compare(self, node: ast.Compare) -> tuple[Predicate, frozenset[str]]:
        op_name = _OPERATOR_NAMES.get(type(node.comparator), type(node.comparator).__name__)
        left = self.value(node.left)
        if isinstance(node.comparator, ast.In):
            if left.literal is not None:
                raise ODataError("The left side of 'in' must be a property.")
            if not isinstance(node.right, ast.List):
                raise ODataError("The 'in' operator needs a list of literals, e.g. number in ('10000','20000').")
            options = {self.coerce(item, left.kind, op_name) for item in node.right.val}
            get = left.get
            return (lambda r: get(r) in options), left.fields
        right = self.value(node.right)
        if left.literal is not None and right.literal is not None:
            # Business Central turns each comparison into a field filter; one without a field has no meaning.
            raise ODataError("Each comparison in $filter must have a property on one side and a value on the other.")
        if left.literal is not None:
            left = _Value(right.kind, _constant(self.coerce(left.literal, right.kind, op_name)))
        elif right.literal is not None:
            right = _Value(left.kind, _constant(self.coerce(right.literal, left.kind, op_name)))
        elif not _compatible(left.kind, right.kind):
            raise _incompatible(left.kind, right.kind, op_name)
        comparator = type(node.comparator)
        lget, rget = left.get, right.get
        return (lambda r: _compare_values(comparator, lget(r), rget(r))), left.fields | right.fields

    def predicate_call(self, node: ast.Call) -> tuple[Predicate, frozenset[str]]:
        name = node.func.name.lower()
        if name not in ("contains", "startswith", "endswith"):
            if name in ("tolower", "toupper", "trim", "length", "indexof", "substring", "concat"):  # not predicates
                raise ODataError(f"The $filter expression must evaluate to a single boolean value: '{name}'.")
            raise self.unknown_function(node.func.name)
        if len(node.args) != 2:
            raise ODataError(f"The function '{name}' takes 2 arguments, {len(node.args)} given.")
        haystack, needle = (self.text_value(a, name) for a in node.args)
        hget, nget = haystack.get, needle.get
        if name == "contains":
            return (lambda r: _text(nget(r)) in _text(hget(r))), haystack.fields | needle.fields
        if name == "startswith":
            return (lambda r: _text(hget(r)).startswith(_text(nget(r)))), haystack.fields | needle.fields
        return (lambda r: _text(hget(r)).endswith(_text(nget(r)))), haystack.fields | needle.fields

    # -- values --

    def value(self, node: ast._Node) -> _Value:
        if isinstance(node, ast.Identifier):
            if node.namespace:
                raise self.unsupported(node)
            name = node.name
            prop = self.etype.prop(name)
            if prop.kind in ("collection", "complex"):
                raise ODataError(f"The property '{name}' cannot be used in $filter: it is not of a primitive type.")
            return _Value(prop.kind, _getter(name, prop.kind), fields=frozenset({name}))
        if isinstance(node, ast._Literal) and not isinstance(node, ast.List):
            return _Value(_literal_kind(node), _constant(None), literal=node)
        if isinstance(node, ast.Call):
            name = node.func.name.lower()
            if name in ("tolower", "toupper", "trim"):
                if len(node.args) != 1:
                    raise ODataError(f"The function '{name}' takes 1 argument, {len(node.args)} given.")
                inner = self.text_value(node.args[0], name)
                iget = inner.get
                transforms: dict[str, Callable[[str], str]] = {
                    "tolower": str.lower, "toupper": str.upper, "trim": str.strip,
                }
                fn = transforms[name]
                return _Value("string", lambda r: fn(_text(iget(r))), fields=inner.fields)
            if name == "length":
                if len(node.args) != 1:
                    raise ODataError(f"The function 'length' takes 1 argument, {len(node.args)} given.")
                inner = self.text_value(node.args[0], name)
                iget = inner.get
                return _Value("int", lambda r: Decimal(len(_text(iget(r)))), fields=inner.fields)
            if name == "substring":
                return self.substring(node)
            if name in ("indexof", "concat"):
                if len(node.args) != 2:
                    raise ODataError(f"The function '{name}' takes 2 arguments, {len(node.args)} given.")
                first, second = (self.text_value(a, name) for a in node.args)
                fget, sget = first.get, second.get
                if name == "indexof":
                    return _Value("int", lambda r: Decimal(_text(fget(r)).find(_text(sget(r)))),
                                  fields=first.fields | second.fields)
                return _Value("string", lambda r: _text(fget(r)) + _text(sget(r)), fields=first.fields | second.fields)
            if name in ("contains", "startswith", "endswith"):
                predicate, fields = self.predicate_call(node)
                return _Value("bool", predicate, fields=fields)
            raise self.unknown_function(node.func.name)
        raise self.unsupported(node)

    def substring(self, node: ast.Call) -> _Value:
        if len(node.args) not in (2, 3):
            raise ODataError(f"The function 'substring' takes 2 or 3 arguments, {len(node.args)} given.")
        text = self.text_value(node.args[0], "substring")
        bounds: list[int] = []
        for arg in node.args[1:]:
            if not isinstance(arg, ast.Integer) or int(arg.val) < 0:
                raise ODataError("The function 'substring' takes a non-negative integer literal as start and length.")
            bounds.append(int(arg.val))
        start = bounds[0]
        end = start + bounds[1] if len(bounds) == 2 else None
        tget = text.get
        return _Value("string", lambda r: _text(tget(r))[start:end], fields=text.fields)

    def text_value(self, node: ast._Node, function: str) -> _Value:
        value = self.value(node)
        if value.literal is not None:
            if not isinstance(value.literal, ast.String):
                raise ODataError(f"The function '{function}' expects a string, got '{_EDM[value.kind]}'.")
            constant = value.literal.py_val
            return _Value("string", _constant(constant))
        if value.kind not in _TEXT:
            raise ODataError(
                f"No function signature for the function with name '{function}' matches the specified arguments "
                f"(found '{_EDM[value.kind]}')."
            )
        return value

    def coerce(self, node: ast._Node, kind: str, op_name: str) -> Any:
        """A literal converted to the type of the property it is compared with (or a 400)."""
        if isinstance(node, ast.Null):
            return None
        literal_kind = _literal_kind(node)
        if kind in _TEXT:
            if isinstance(node, ast.String):
                return node.val
        elif kind == "guid":
            if isinstance(node, ast.GUID | ast.String):
                try:
                    return str(uuid.UUID(node.val.strip("{}")))
                except ValueError as exc:
                    raise ODataError(f"Unrecognized 'Edm.Guid' literal '{node.val}'.") from exc
        elif kind in _NUMERIC:
            if isinstance(node, ast.Integer | ast.Float):
                try:
                    return Decimal(node.val)
                except InvalidOperation as exc:
                    raise ODataError(f"Invalid number literal '{node.val}'.") from exc
        elif kind == "date":
            if isinstance(node, ast.Date):
                return _checked_date(node.val)
        elif kind == "datetime":
            if isinstance(node, ast.DateTime):
                return _checked_datetime(node.val)
            if isinstance(node, ast.Date):
                return datetime.combine(date.fromisoformat(_checked_date(node.val)), datetime.min.time(), UTC)
        elif kind == "bool" and isinstance(node, ast.Boolean):
            return node.py_val
        raise _incompatible(kind, literal_kind, op_name)

    def top_level_equals(self, node: ast._Node) -> dict[str, Any]:
        """``prop eq literal`` terms joined by ``and`` at the top: lets callers narrow rows before filtering."""
        out: dict[str, Any] = {}
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
            out.update(self.top_level_equals(node.left))
            out.update(self.top_level_equals(node.right))
        elif (isinstance(node, ast.Compare) and isinstance(node.comparator, ast.Eq)
              and isinstance(node.left, ast.Identifier) and isinstance(node.right, ast._Literal)):
            prop = self.etype.prop(node.left.name)
            out[node.left.name] = self.coerce(node.right, prop.kind, "Equal")
        return out

    def unsupported(self, node: ast._Node) -> ODataError:
        what = type(node).__name__
        if isinstance(node, ast.Attribute):
            return ODataError("Filtering on a navigation property path is not supported; filter on the entity's "
                              "own properties instead.")
        if isinstance(node, ast.BinOp):
            return ODataError("Arithmetic operators are not supported in $filter.")
        if isinstance(node, ast.CollectionLambda):
            return ODataError("Lambda operators (any/all) are not supported in $filter.")
        return ODataError(f"The $filter expression is not supported ({what}).")

    @staticmethod
    def unknown_function(name: str) -> ODataError:
        return ODataError(
            f"An unknown function with name '{name}' was found. This may also be a function import or a key "
            "lookup on a navigation property, which is not allowed."
        )


def _literal_kind(node: ast._Node) -> str:
    if isinstance(node, ast.String):
        return "string"
    if isinstance(node, ast.Integer):
        return "int"
    if isinstance(node, ast.Float):
        return "decimal"
    if isinstance(node, ast.GUID):
        return "guid"
    if isinstance(node, ast.Date):
        return "date"
    if isinstance(node, ast.DateTime):
        return "datetime"
    if isinstance(node, ast.Boolean):
        return "bool"
    if isinstance(node, ast.Null):
        return "null"
    raise ODataError(f"Literals of type {type(node).__name__} are not supported in $filter.")


def _checked_date(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise ODataError(f"Unable to convert '{text}' to a value of type 'Edm.Date'.") from exc


def _checked_datetime(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ODataError(f"Unable to convert '{text}' to a value of type 'Edm.DateTimeOffset'.") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _incompatible(left: str, right: str, op_name: str) -> ODataError:
    return ODataError(
        "A binary operator with incompatible types was detected. Found operand types "
        f"'{_EDM.get(left, left)}' and '{_EDM.get(right, right)}' for operator kind '{op_name}'."
    )


def _compatible(a: str, b: str) -> bool:
    return a == b or (a in _NUMERIC and b in _NUMERIC) or (a in _TEXT and b in _TEXT)


def _constant(value: Any) -> Getter:
    return lambda r: value


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _parse_datetime(value: Any) -> datetime:
    if not value:
        return _MIN_DATETIME
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return _MIN_DATETIME
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _getter(name: str, kind: str) -> Getter:
    """Read a property as a comparable Python value of its kind."""
    if kind == "guid":
        return lambda r: str(r.get(name) or "").lower()
    if kind in _NUMERIC:
        return lambda r: None if r.get(name) is None else Decimal(str(r[name]))
    if kind == "datetime":
        return lambda r: _parse_datetime(r.get(name))
    return lambda r: r.get(name)


def _compare_values(comparator: type, left: Any, right: Any) -> bool:
    if comparator is ast.Eq:
        return bool(left == right)
    if comparator is ast.NotEq:
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        if comparator is ast.Gt:
            return bool(left > right)
        if comparator is ast.GtE:
            return bool(left >= right)
        if comparator is ast.Lt:
            return bool(left < right)
        if comparator is ast.LtE:
            return bool(left <= right)
    except TypeError:
        return False
    return False


# ---- $select, $orderby, $expand, $top/$skip ---------------------------------------------------------


def parse_select(text: str, etype: EntityType) -> tuple[str, ...] | None:
    names = [part.strip() for part in text.split(",")]
    if any(not n for n in names):
        raise ODataError(f"Syntax error at position {text.find(',,') + 1 if ',,' in text else len(text)} in '{text}'.")
    if "*" in names:
        return None
    for name in names:
        if name not in etype.props:
            if name in etype.navigations:
                raise ODataError(f"The navigation property '{name}' cannot be selected; use $expand={name}.")
            raise etype.unknown(name)
    return tuple(dict.fromkeys(names))


def parse_orderby(text: str, etype: EntityType) -> tuple[tuple[str, bool], ...]:
    keys: list[tuple[str, bool]] = []
    for item in text.split(","):
        words = item.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise ODataError(f"Syntax error in $orderby '{text}': expected 'property [asc|desc]'.")
        prop = etype.prop(words[0])
        if prop.kind in ("collection", "complex"):
            raise ODataError("The $orderby expression must evaluate to a single value of primitive type.")
        keys.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    return tuple(keys)


def parse_count(text: str, option: str) -> int:
    if not re.fullmatch(r"\d{1,9}", text.strip()):
        raise ODataError(
            f"Invalid value '{text}' for {option} query option found. "
            f"The {option} query option requires a non-negative integer value."
        )
    return int(text)


@dataclass(frozen=True)
class Expand:
    name: str
    etype: EntityType
    select: tuple[str, ...] | None = None


def _split_top_level(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ODataError(f"Syntax error: unbalanced parentheses in '{text}'.")
        if ch == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if depth != 0:
        raise ODataError(f"Syntax error: unbalanced parentheses in '{text}'.")
    parts.append("".join(current))
    return parts


def parse_expand(text: str, etype: EntityType) -> tuple[Expand, ...]:
    out: list[Expand] = []
    for raw in _split_top_level(text, ","):
        item = raw.strip()
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?", item, re.DOTALL)
        if not match:
            raise ODataError(f"Syntax error in $expand '{text}'.")
        name, options = match.group(1), match.group(2)
        target = etype.navigations.get(name)
        if target is None:
            raise etype.unknown(name)
        select: tuple[str, ...] | None = None
        for option in _split_top_level(options or "", ";"):
            option = option.strip()
            if not option:
                continue
            key, _, value = option.partition("=")
            if key.strip() == "$select":
                select = parse_select(value, target)
            else:
                raise ODataError(f"The query option '{key.strip()}' is not supported inside $expand.")
        out.append(Expand(name, target, select))
    return tuple(out)


# ---- the whole query -------------------------------------------------------------------------------

_SUPPORTED = frozenset({
    "$filter", "$select", "$expand", "$orderby", "$top", "$skip", "$skiptoken", "$count", "$format",
    "$schemaversion",
})


@dataclass(frozen=True)
class SkipToken:
    position: int
    last_id: str


@dataclass(frozen=True)
class Query:
    filter: CompiledFilter | None = None
    select: tuple[str, ...] | None = None
    orderby: tuple[tuple[str, bool], ...] = ()
    top: int | None = None
    skip: int = 0
    expand: tuple[Expand, ...] = ()
    count: bool = False
    skiptoken: SkipToken | None = None


def parse_query(params: Sequence[tuple[str, str]], etype: EntityType) -> Query:
    """The system query options of a request (others, like ``company`` or ``tenant``, are ignored)."""
    seen: dict[str, str] = {}
    for key, value in params:
        if not key.startswith("$"):
            continue
        if key not in _SUPPORTED:
            raise ODataError(f"The query parameter '{key}' is not supported.")
        if key in seen:
            raise ODataError(
                f"Query option '{key}' was specified more than once, but it must be specified at most once."
            )
        seen[key] = value
    fmt = seen.get("$format")
    if fmt is not None and fmt.split(";")[0].strip().lower() not in ("json", "application/json"):
        raise ODataError(f"The format '{fmt}' is not supported; use json.", status=406, code="BadRequest")
    count = seen.get("$count")
    if count is not None and count.lower() not in ("true", "false"):
        raise ODataError(f"'{count}' is not a valid count option.")
    return Query(
        filter=parse_filter(seen["$filter"], etype) if "$filter" in seen else None,
        select=parse_select(seen["$select"], etype) if "$select" in seen else None,
        orderby=parse_orderby(seen["$orderby"], etype) if "$orderby" in seen else (),
        top=parse_count(seen["$top"], "$top") if "$top" in seen else None,
        skip=parse_count(seen["$skip"], "$skip") if "$skip" in seen else 0,
        expand=parse_expand(seen["$expand"], etype) if "$expand" in seen else (),
        count=(count or "").lower() == "true",
        skiptoken=decode_skiptoken(seen["$skiptoken"]) if "$skiptoken" in seen else None,
    )


def _sort_key(name: str, kind: str) -> Callable[[Record], Any]:
    if kind in _NUMERIC:
        return lambda r: float(r.get(name) or 0)
    if kind == "guid":
        return lambda r: str(r.get(name) or "").lower()
    if kind == "bool":
        return lambda r: bool(r.get(name))
    return lambda r: str(r.get(name) or "")


def select_rows(rows: Sequence[Record], query: Query, etype: EntityType) -> list[Record]:
    """Filter, order, skip and top: the rows the whole (unpaged) answer holds, in order."""
    out = list(rows) if query.filter is None else [r for r in rows if query.filter.predicate(r)]
    # Stable sorts from the last key to the first give multi-key order; ties keep key (natural) order.
    for name, descending in reversed(query.orderby):
        out.sort(key=_sort_key(name, etype.props[name].kind), reverse=descending)
    if query.skip:
        out = out[query.skip:]
    if query.top is not None:
        out = out[: query.top]
    return out


def page_of(rows: Sequence[Record], token: SkipToken | None, size: int) -> tuple[list[Record], SkipToken | None]:
    """One page of ``rows`` and the token for the next one (``None`` on the last page).

    The token remembers the last row's id as well as its position, so a row inserted or removed before it
    between two requests does not make the next page repeat or skip rows.
    """
    start = 0
    if token is not None:
        start = token.position
        if not (0 < start <= len(rows) and rows[start - 1].get("id") == token.last_id):
            found = next((i for i, r in enumerate(rows) if r.get("id") == token.last_id), None)
            start = found + 1 if found is not None else min(token.position, len(rows))
    end = start + size
    page = list(rows[start:end])
    if end < len(rows) and page:
        return page, SkipToken(end, str(page[-1].get("id")))
    return page, None


def encode_skiptoken(token: SkipToken) -> str:
    raw = json.dumps({"p": token.position, "k": token.last_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_skiptoken(text: str) -> SkipToken:
    try:
        padded = text.strip("'") + "=" * (-len(text.strip("'")) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        return SkipToken(int(data["p"]), str(data["k"]))
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError) as exc:
        raise ODataError(f"The skip token value '{text}' is invalid.") from exc


def max_page_size(prefer: str | None) -> int | None:
    """The client's ``Prefer: odata.maxpagesize=N`` (capped at the server maximum), if any."""
    if not prefer:
        return None
    match = re.search(r"(?:^|[\s,;])(?:odata\.)?maxpagesize\s*=\s*\"?(\d+)", prefer, re.IGNORECASE)
    if not match:
        return None
    size = int(match.group(1))
    return min(size, SERVER_MAX_PAGE_SIZE) if size > 0 else None


def project(record: Record, etype: EntityType, select: Sequence[str] | None, etag: str | None) -> dict[str, Any]:
    """The JSON object of one entity: ``@odata.etag`` first, then the (selected) properties in order."""
    out: dict[str, Any] = {"@odata.etag": etag} if etag is not None else {}
    names = etype.props if select is None else select
    for name in names:
        out[name] = record.get(name)
    return out
