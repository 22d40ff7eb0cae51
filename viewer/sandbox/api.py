"""The Business Central API routes of the sandbox: cloud (bearer) and on-prem (Basic), API v2.0/v1.0/beta.

Paths, field sets, envelopes and errors follow ``bc-api/SPEC.md``; the entity model and ``$metadata`` are
in ``edm.py``. Routing is done here rather than with one Starlette route per entity because OData keys
(``companies(<guid>)``) are part of path segments: ``_Call.dispatch`` walks the path one segment at a time,
the same way for the nested and the direct routes. After an entity come its navigation properties
(``related.py``), after a collection ``/$count``. Unknown ids answer 404 ``Internal_RecordNotFound`` ("The
<table> does not exist. …"), unknown segments 404 ``BadRequest_ResourceNotFound``, unknown versions or
URL shapes 404 ``BadRequest_NotFound``. viewer/sandbox/README.md has the fidelity table.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from viewer.sandbox import related
from viewer.sandbox.bcerrors import bc_error, unauthorized
from viewer.sandbox.data import DataError, DataStore
from viewer.sandbox.edm import COMPANY_SETS, JOURNALS, PAYMENTS, SCHEMAS, VERSIONS, metadata_xml
from viewer.sandbox.odata import (
    SERVER_MAX_PAGE_SIZE,
    EntityType,
    ODataError,
    Prop,
    Query,
    encode_skiptoken,
    max_page_size,
    page_of,
    parse_query,
    project,
    select_rows,
)
from viewer.sandbox.tokens import TokenError

logger = logging.getLogger(__name__)

Record = Mapping[str, Any]

CONTENT_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true"
JOURNALS_ALIAS = "customerPaymentsJournals"  # the docs' misspelling (SPEC §1.1), accepted on purpose
POST_ACTION = "Microsoft.NAV.post"
DEFAULT_ENVIRONMENT = "production"
MUST_FILTER = "You must specify a journal batch ID or a journal ID to get a journal line."
HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "MERGE", "TRACE", "CONNECT"]


@dataclass
class ApiContext:
    base_url: str
    tenant_id: str
    tenant_domain: str
    stores: dict[str, DataStore]
    verify_token: Callable[[str], dict[str, Any]]
    basic_user: str
    basic_password: str
    onprem_instance: str


# The table behind each entity, for "The <table> does not exist." messages.
_TABLES = {
    "company": "Company", "customerPaymentJournal": "Gen. Journal Batch", "customerPayment": "Gen. Journal Line",
    "customer": "Customer", "salesInvoice": "Sales Invoice Entity Aggregate",
}


# ---- small helpers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    name: str
    key: str | None
    raw: str


_SEGMENT = re.compile(r"^([^()]+)(?:\((.*)\))?$", re.DOTALL)


def parse_segments(parts: Sequence[str]) -> list[Segment]:
    out: list[Segment] = []
    for raw in parts:
        match = _SEGMENT.match(raw)
        if match is None:
            raise _resource_not_found(raw)
        key = match.group(2)
        if key is not None:
            key = key.strip().strip("'\"{}").strip()
            if key.lower().startswith("id="):  # companies(id=…): the named-key form
                key = key[3:].strip().strip("'\"{}")
        out.append(Segment(match.group(1), key, raw))
    return out


def _resource_not_found(segment: str) -> ODataError:
    return ODataError(f"Resource not found for the segment '{segment}'.", status=404,
                      code="BadRequest_ResourceNotFound")


def _no_resource(url: str) -> ODataError:
    return ODataError(f"No HTTP resource was found that matches the request URI '{url}'.", status=404,
                      code="BadRequest_NotFound")


def _record_not_found(etype: EntityType, key: str) -> ODataError:
    table = _TABLES.get(etype.name, etype.name)
    return ODataError(f"The {table} does not exist. Identification fields and values: Id='{key}'", status=404,
                      code="Internal_RecordNotFound")


def _guid(key: str) -> str:
    try:
        return str(uuid.UUID(key))
    except ValueError as exc:
        raise ODataError(f"Unrecognized 'Edm.Guid' literal '{key}' in the key of the request URI.") from exc


def _json_response(body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(data, status_code=status, headers=_standard_headers(headers), media_type=CONTENT_TYPE)


def _standard_headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {"OData-Version": "4.0", "request-id": str(uuid.uuid4()), "ms-correlation-x": str(uuid.uuid4()),
            **(extra or {})}


def _error_response(exc: ODataError | DataError, headers: Mapping[str, str] | None = None) -> Response:
    extra = exc.headers if isinstance(exc, ODataError) else {}
    return bc_error(exc.status, exc.code, exc.message, headers={"OData-Version": "4.0", **extra, **(headers or {})})


def _method_not_allowed(method: str, name: str, kind: str, allowed: Sequence[str]) -> ODataError:
    return ODataError(
        f"'{method}' requests for '{name}' of EdmType '{kind}' are not allowed within Dynamics 365 Business "
        "Central OData web services.", status=405, code="BadRequest_MethodNotAllowed",
        headers={"Allow": ", ".join(allowed)})


# ---- content negotiation ----------------------------------------------------------------------------

_JSON_TYPES = ("application/json",)
_XML_TYPES = ("application/xml", "text/xml")
_TEXT_TYPES = ("text/plain",)


def acceptable(accept: str | None, offered: Sequence[str]) -> bool:
    """Whether an ``Accept`` header admits one of the ``offered`` media types (RFC 9110 §12.5.1; q=0 refuses)."""
    if accept is None or not accept.strip():
        return True
    for item in accept.split(","):
        media, *params = (p.strip().lower() for p in item.split(";"))
        q = next((p.partition("=")[2] for p in params if p.startswith("q=")), "1")
        try:
            if float(q) <= 0:
                continue
        except ValueError:
            continue
        main, _, sub = media.partition("/")
        for offer in offered:
            offer_main, _, offer_sub = offer.partition("/")
            if media == "*/*" or (main == offer_main and sub in ("*", offer_sub)):
                return True
    return False


# ---- write bodies ----------------------------------------------------------------------------------


def _validate_body(body: Mapping[str, Any], etype: EntityType) -> dict[str, Any]:
    """Check a PATCH/POST body against the version's properties: names, types, lengths, read-only."""
    out: dict[str, Any] = {}
    for name, value in body.items():
        if name.startswith("@odata."):
            continue
        prop = etype.props.get(name)
        if prop is None:
            raise ODataError(
                f"The property '{name}' does not exist on type '{etype.qualified}'. Make sure to only use "
                "property names that are defined by the type.")
        if prop.read_only:
            if name == "journalDisplayName":
                raise ODataError("The Journal Batch Display Name isn't editable.", code="Application_DialogException")
            raise ODataError(f"Control '{name}' is read-only.", code="BadRequest_InvalidOperation")
        out[name] = _convert(name, value, prop)
    return out


def _convert(name: str, value: Any, prop: Prop) -> Any:
    def bad(edm: str) -> ODataError:
        return ODataError(f"Cannot convert the literal '{value}' to the expected type '{edm}' (property '{name}').")

    if prop.kind in ("string", "enum"):
        if not isinstance(value, str):
            raise bad("Edm.String")
        if prop.max_length is not None and len(value) > prop.max_length:
            raise ODataError(
                f"The length of the string is {len(value)}, but it must be less than or equal to {prop.max_length} "
                f"characters. Value: {value}", code="Application_StringExceededLength")
        return value
    if prop.kind == "guid":
        if not isinstance(value, str):
            raise bad("Edm.Guid")
        try:
            return str(uuid.UUID(value.strip("{}")))
        except ValueError as exc:
            raise ODataError(f"'{value}' is not a valid GUID (property '{name}').",
                             code="Application_InvalidGUID") from exc
    if prop.kind in ("int", "int64"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("Edm.Int32")
        return value
    if prop.kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("Edm.Decimal")
        as_float = float(value)
        return int(as_float) if as_float.is_integer() else round(as_float, 2)
    if prop.kind == "date":
        try:
            return date.fromisoformat(value).isoformat()
        except (TypeError, ValueError) as exc:
            raise bad("Edm.Date") from exc
    if prop.kind == "datetime":
        try:
            datetime.fromisoformat(value)
        except (TypeError, ValueError) as exc:
            raise bad("Edm.DateTimeOffset") from exc
        return value
    if prop.kind == "bool":
        if not isinstance(value, bool):
            raise bad("Edm.Boolean")
        return value
    if prop.kind == "collection":
        keys = ("code", "displayName", "valueCode", "valueDisplayName")
        if not isinstance(value, list) or not all(isinstance(d, dict) for d in value):
            raise bad("Collection(Microsoft.NAV.dimension)")
        return [{k: str(d.get(k, "")) for k in keys} for d in value]
    raise bad(prop.kind)


# ---- one request against one store -----------------------------------------------------------------


class _Call:
    """The state of one API request after authentication: store, version, root URL and query."""

    def __init__(self, ctx: ApiContext, request: Request, store: DataStore, root: str, version: str) -> None:
        self.ctx = ctx
        self.request = request
        self.store = store
        self.root = root
        self.version = version
        self.schema = SCHEMAS[version]
        self.method = request.method
        self.params = list(request.query_params.multi_items())

    # -- responses --

    def context(self, parts: Sequence[str], select: Sequence[str] | None, entity: bool) -> str:
        """``…/$metadata#companies(<id>)/customerPaymentJournals(<id>)/customerPayments(sel)/$entity``: the
        path with keys, except on its last segment, which carries the ``$select``."""
        last = parts[-1].split("(")[0] + (f"({','.join(select)})" if select else "")
        tail = "/".join([*parts[:-1], last]) + ("/$entity" if entity else "")
        return f"{self.root}/$metadata#{tail}"

    def query(self, etype: EntityType) -> Query:
        return parse_query(self.params, etype)

    def render(self, record: Record, etype: EntityType, query: Query, *, etag: bool = True) -> dict[str, Any]:
        out = project(record, etype, query.select, record.get("_etag") if etag else None)
        for item in query.expand:
            value = self.navigate(record, etype, item.name)
            if isinstance(value, Sequence):
                out[item.name] = [project(v, item.etype, item.select, v.get("_etag")) for v in value]
            else:
                out[item.name] = None if value is None else project(value, item.etype, item.select, value.get("_etag"))
        return out

    def navigate(self, record: Record, etype: EntityType, nav: str) -> Record | Sequence[Record] | None:
        if nav not in etype.navigations:
            raise etype.unknown(nav)
        try:
            return related.navigate(self.store, record, etype.name, nav)
        except related.MustFilter as exc:
            raise ODataError(MUST_FILTER, code="Application_DialogException") from exc

    def entity(self, record: Record, etype: EntityType, parts: Sequence[str], *, status: int = 200,
               etag: bool = True, headers: Mapping[str, str] | None = None) -> Response:
        query = self.query(etype)
        body = {"@odata.context": self.context(parts, query.select, entity=True),
                **self.render(record, etype, query, etag=etag)}
        extra = dict(headers or {})
        if etag and record.get("_etag"):
            extra["ETag"] = str(record["_etag"])
        return _json_response(body, status=status, headers=extra)

    def collection(self, rows: Sequence[Record], etype: EntityType, parts: Sequence[str], *, etag: bool = True,
                   query: Query | None = None) -> Response:
        query = query or self.query(etype)
        filtered = rows if query.filter is None else [r for r in rows if query.filter.predicate(r)]
        window = select_rows(filtered, Query(orderby=query.orderby, top=query.top, skip=query.skip), etype)
        preferred = max_page_size(self.request.headers.get("prefer"))
        page, token = page_of(window, query.skiptoken, preferred or SERVER_MAX_PAGE_SIZE)
        body: dict[str, Any] = {"@odata.context": self.context(parts, query.select, entity=False)}
        if query.count:
            body["@odata.count"] = len(filtered)
        body["value"] = [self.render(r, etype, query, etag=etag) for r in page]
        if token is not None:
            body["@odata.nextLink"] = self.next_link(encode_skiptoken(token))
        headers = {"Preference-Applied": f"odata.maxpagesize={preferred}"} if preferred else None
        return _json_response(body, headers=headers)

    def next_link(self, skiptoken: str) -> str:
        raw_path = self.request.scope.get("raw_path") or self.request.url.path.encode()
        params = [(k, v) for k, v in self.params if k != "$skiptoken"] + [("$skiptoken", skiptoken)]
        query = urlencode(params, quote_via=quote, safe="$,()'=:/")
        return f"{self.ctx.base_url}{raw_path.decode('latin-1')}?{query}"

    def allow(self, allowed: Sequence[str], name: str, kind: str) -> None:
        if self.method not in allowed and not (self.method == "HEAD" and "GET" in allowed):
            raise _method_not_allowed(self.method, name, kind, allowed)

    # -- routing --

    async def dispatch(self, segments: list[Segment]) -> Response:
        if not segments:
            self.allow(["GET"], "", "EntityContainer")
            return self.service_document()
        head = segments[0]
        if head.name == "$metadata" and head.key is None and len(segments) == 1:
            self.allow(["GET"], "$metadata", "Metadata")
            return self.metadata()
        if head.name == "companies":
            node = self.companies(head)
            rest = segments[1:]
        elif (company_param := self.request.query_params.get("company")) is not None:
            # ?company= stands for companies(<id>)/ (contexts then start at the set, as Business Central's do).
            node = _Node(self.schema.company, [], record=self.find_company(company_param))
            rest = segments
        elif head.name in (*COMPANY_SETS, JOURNALS_ALIAS):
            raise ODataError("Cannot determine the company: put companies({id}) in the path or add ?company={id}.",
                             code="Internal_CompanyNotFound")
        else:
            raise _resource_not_found(head.raw)
        for index, segment in enumerate(rest):
            node = self.step(node, segment, last=index == len(rest) - 1)
        return await self.answer(node)

    def companies(self, head: Segment) -> _Node:
        company_type = self.schema.company
        if head.key is None:
            return _Node(company_type, ["companies"], kind="collection", rows=self.store.companies)
        company = self.store.company(_guid(head.key))
        if company is None:
            raise _record_not_found(company_type, head.key)
        return _Node(company_type, [f"companies({company['id']})"], record=company)

    def step(self, node: _Node, segment: Segment, *, last: bool) -> _Node:
        """One more path segment: a navigation property, a key, ``$count`` or the journal's post action."""
        if node.kind == "collection":
            if segment.name == "$count" and segment.key is None and last:
                return node.with_kind("count")
            raise _resource_not_found(segment.raw)
        if node.kind != "entity" or node.record is None:
            raise _resource_not_found(segment.raw)
        etype, record = node.etype, node.record
        if segment.name == POST_ACTION and etype.name == "customerPaymentJournal" and segment.key is None and last:
            return _Node(etype, [*node.path, "post"], record=record, kind="action")
        name = JOURNALS if segment.name == JOURNALS_ALIAS and etype.name == "company" else segment.name
        target = etype.navigations.get(name)
        if target is None:
            raise _resource_not_found(segment.raw)
        if name not in etype.many:
            if segment.key is not None:
                raise _resource_not_found(segment.raw)
            found = self.navigate(record, etype, name)
            return _Node(target, [*node.path, name], record=found if isinstance(found, Mapping) else None)
        collection = _Node(target, [*node.path, name], kind="collection", parent=record, parent_type=etype)
        if segment.key is None:
            return collection
        member = self.member(collection, segment.key)
        return _Node(target, [*node.path, f"{name}({member.get('id', segment.key)})"], record=member,
                     parent=record, parent_type=etype)

    def member(self, collection: _Node, key: str) -> Record:
        """The entity with key ``key`` in a collection (404 ``Internal_RecordNotFound`` when there is none)."""
        etype, parent = collection.etype, collection.parent
        company = str(parent["id"]) if collection.parent_type is self.schema.company and parent else ""
        found: Record | None
        if etype.name == "customerPayment":
            found = self.store.payment(_guid(key), company or (str(parent["_company"]) if parent else None))
            if found is not None and parent is not None and collection.parent_type is not self.schema.company \
                    and found["journalId"] != parent["id"]:
                found = None
        elif company and etype.name == "customerPaymentJournal":
            found = self.store.journal(company, _guid(key))
        elif company and etype.name == "customer":
            found = self.store.customer(_guid(key), company)
        elif company and etype.name == "salesInvoice":
            found = self.store.invoice(_guid(key), company)
        else:
            wanted = key.lower()
            found = next((r for r in self.rows(collection) if str(r.get(etype.key[0], "")).lower() == wanted), None)
        if found is None:
            raise _record_not_found(etype, key)
        return found

    def rows(self, collection: _Node, query: Query | None = None) -> Sequence[Record]:
        if collection.rows is not None:
            return collection.rows()
        assert collection.parent is not None and collection.parent_type is not None
        if collection.etype.name == "customerPayment" and collection.parent_type is self.schema.company:
            return self.company_payments(str(collection.parent["id"]), query or self.query(collection.etype))
        found = self.navigate(collection.parent, collection.parent_type, collection.path[-1])
        return found if isinstance(found, Sequence) else []

    def company_payments(self, company_id: str, query: Query) -> Sequence[Record]:
        """The direct set: Business Central's page refuses to list lines without a journal or id filter."""
        if query.filter is None or not ({"journalId", "id"} & query.filter.fields):
            raise ODataError(MUST_FILTER, code="Application_DialogException")
        equals = query.filter.equals
        if isinstance(equals.get("id"), str):
            one = self.store.payment(equals["id"], company_id)
            if one is not None:
                self.store.note_read(str(one["id"]))
            return [one] if one is not None else []
        if isinstance(equals.get("journalId"), str):
            found = self.store.journal(company_id, equals["journalId"])
            return self.store.journal_payments(str(found["id"])) if found is not None else []
        return self.store.company_payments(company_id)

    async def answer(self, node: _Node) -> Response:
        """The response for the resource a whole path names, by method."""
        name = node.path[-1].split("(")[0] if node.path else ""
        etype = node.etype
        is_payment = etype.name == "customerPayment"
        company_id = self.company_of(node)
        if node.kind == "action":
            self.allow(["POST"], "post", "Action")
            assert node.record is not None
            self.store.post_journal(company_id, str(node.record["id"]))
            return Response(status_code=204, headers=_standard_headers())
        if node.kind == "count":
            self.allow(["GET"], "$count", "Count")
            query = self.query(etype)
            rows = self.rows(node, query)
            count = sum(1 for r in rows if query.filter is None or query.filter.predicate(r))
            return Response(str(count), headers=_standard_headers(), media_type="text/plain")
        if node.kind == "collection":
            if is_payment:
                self.allow(["GET", "POST"], name, "EntitySet")
                journal = node.parent if node.parent_type is not self.schema.company else None
                if self.method == "POST":
                    return await self.create_payment(company_id, journal, node.path)
            else:
                self.allow(["GET"], name, "EntitySet")
            query = self.query(etype)
            return self.collection(self.rows(node, query), etype, node.path, etag=etype.name != "company", query=query)
        if node.record is None:  # a single-valued navigation with nothing behind it
            self.allow(["GET"], name, "Entity")
            return Response(status_code=204, headers=_standard_headers())
        if is_payment:
            return await self.payment_entity(company_id, node.record, node.path)
        self.allow(["GET"], name, "Entity")
        return self.entity(node.record, etype, node.path, etag=etype.name != "company")

    def company_of(self, node: _Node) -> str:
        record = node.record if node.record is not None else node.parent
        if record is None:
            return ""
        return str(record["id"]) if "_company" not in record else str(record["_company"])

    def find_company(self, value: str) -> Record:
        try:
            found = self.store.company(str(uuid.UUID(value.strip("{}'"))))
        except ValueError:
            found = self.store.company_by_name(value)
        if found is None:
            raise ODataError(f"Cannot find the company '{value}'.", status=404, code="Internal_CompanyNotFound")
        return found

    async def payment_entity(self, company_id: str, payment: Record, parts: list[str]) -> Response:
        self.allow(["GET", "PATCH", "DELETE"], PAYMENTS, "Entity")
        if self.method in ("GET", "HEAD"):
            self.store.note_read(str(payment["id"]))
            return self.entity(payment, self.schema.payment, parts)
        if_match = self.request.headers.get("if-match")
        if not if_match:
            raise ODataError("Could not validate the client concurrency token required by the service. Please "
                             "provide a valid token in the client request.", code="BadRequest_InvalidToken")
        if self.method == "DELETE":
            self.store.delete_payment(str(payment["id"]), if_match=if_match, company_id=company_id)
            return Response(status_code=204, headers=_standard_headers())
        changes = _validate_body(await self.body(), self.schema.payment)
        updated = self.store.patch_payment(str(payment["id"]), changes, if_match=if_match, company_id=company_id)
        return self.entity(updated, self.schema.payment, parts)

    async def create_payment(self, company_id: str, journal: Record | None, parts: list[str]) -> Response:
        values = _validate_body(await self.body(), self.schema.payment)
        if journal is None:
            journal_id = values.get("journalId")
            if journal_id is None and values.get("journalDisplayName"):
                journal = next((j for j in self.store.journals(company_id)
                                if j["code"] == values["journalDisplayName"]), None)
            elif journal_id is not None:
                journal = self.store.journal(company_id, journal_id)
                if journal is None:
                    raise _record_not_found(self.schema.journal, journal_id)
            if journal is None:
                raise ODataError(MUST_FILTER, code="Application_DialogException")
        elif values.get("journalId", journal["id"]) != journal["id"]:
            raise ODataError("The Journal Id cannot be changed.", code="Application_DialogException")
        if values.get("journalDisplayName", journal["code"]) != journal["code"]:
            raise ODataError("The Journal Batch Display Name cannot be changed.", code="Application_DialogException")
        record = self.store.create_payment(company_id, str(journal["id"]), values)
        location = f"{self.root}/{'/'.join(parts)}({record['id']})"
        return self.entity(record, self.schema.payment, parts, status=201, headers={"Location": location})

    async def body(self) -> dict[str, Any]:
        raw = await self.request.body()
        try:
            body = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ODataError("Invalid Request Body: the body is not valid JSON.") from exc
        if not isinstance(body, dict):
            raise ODataError("Invalid Request Body: expected a JSON object.")
        return body

    # -- service document and $metadata --

    def service_document(self) -> Response:
        body = {"@odata.context": f"{self.root}/$metadata",
                "value": [{"name": s, "kind": "EntitySet", "url": s} for s in self.schema.entity_sets]}
        return _json_response(body)

    def metadata(self) -> Response:
        return Response(metadata_xml(self.schema), headers=_standard_headers(), media_type="application/xml")


@dataclass
class _Node:
    """What a path names so far: an entity (``record``, None for an empty single-valued navigation), a
    collection (``rows``, or the navigation ``path[-1]`` of ``parent``), its ``$count`` or the post action."""

    etype: EntityType
    path: list[str]  # canonical segments with keys, e.g. ["companies(<id>)", "customerPaymentJournals(<id>)"]
    record: Record | None = None
    kind: str = "entity"  # or "collection", "count", "action"
    rows: Callable[[], Sequence[Record]] | None = None
    parent: Record | None = None
    parent_type: EntityType | None = None

    def with_kind(self, kind: str) -> _Node:
        return _Node(self.etype, self.path, self.record, kind, self.rows, self.parent, self.parent_type)


# ---- authentication and the routes -----------------------------------------------------------------


def negotiate(request: Request, segments: Sequence[str]) -> None:
    """Refuse an ``Accept`` the resource cannot answer with 406, as OData 4.0 (Part 1, §8.2.1) says a service
    does; ``$format`` (checked in ``parse_query``) takes precedence over ``Accept``. See viewer/sandbox/README.md."""
    if any(key == "$format" for key in request.query_params):
        return
    last = segments[-1] if segments else ""
    offered = _XML_TYPES if last == "$metadata" else _TEXT_TYPES if last == "$count" else _JSON_TYPES
    accept = request.headers.get("accept")
    if not acceptable(accept, offered):
        raise ODataError(f"The requested media type '{accept}' is not supported; this resource is served as "
                         f"{offered[0]}.", status=406, code="BadRequest")


def _token_message(exc: TokenError) -> str:
    return f"The server has rejected the client credentials. {exc}"


def api_routes(ctx: ApiContext) -> list[BaseRoute]:
    """Cloud ``/v2.0/…``, on-prem ``/{instance}/api/…`` and the user-level environments list."""
    tenant_names = {ctx.tenant_id.lower(), ctx.tenant_domain.lower()}

    def bearer(request: Request, url_tenant: str | None) -> Response | dict[str, Any]:
        challenge_tenant = url_tenant if url_tenant and url_tenant.lower() in tenant_names else ctx.tenant_id
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return unauthorized(challenge_tenant, ctx.base_url,
                                "The server has rejected the client credentials. No bearer access token was sent.")
        try:
            claims = ctx.verify_token(token.strip())
        except TokenError as exc:
            return unauthorized(challenge_tenant, ctx.base_url, _token_message(exc))
        tid = str(claims.get("tid", "")).lower()
        if tid != ctx.tenant_id.lower() or (url_tenant is not None and url_tenant.lower() not in tenant_names):
            return unauthorized(challenge_tenant, ctx.base_url,
                                f"The server has rejected the client credentials. The access token was issued for "
                                f"another tenant than '{url_tenant or tid}'.")
        return claims

    async def run(call: _Call, segments: list[str]) -> Response:
        try:
            negotiate(call.request, segments)
            return await call.dispatch(parse_segments(segments))
        except (ODataError, DataError) as exc:
            return _error_response(exc)
        except Exception:  # a sandbox bug must still answer like Business Central, not with a bare 500
            logger.exception("sandbox API failure for %s %s", call.method, call.request.url.path)
            return bc_error(500, "Internal_ServerError", "An unexpected error occurred in the sandbox.")

    def split(rest: str) -> list[str]:
        parts = rest.split("/")
        while parts and parts[-1] == "":
            parts.pop()
        return parts

    async def cloud(request: Request) -> Response:
        parts = split(request.path_params["rest"])
        if len(parts) >= 2 and parts[1] == "api":
            tenant, environment, after = None, parts[0], parts[2:]
        elif len(parts) >= 3 and parts[2] == "api":
            tenant, environment, after = parts[0], parts[1], parts[3:]
        else:
            tenant, environment, after = (parts[0] if parts else None), None, []
        auth = bearer(request, tenant)
        if isinstance(auth, Response):
            return auth
        if environment is None:
            return _error_response(_no_resource(str(request.url)))
        store = next((s for name, s in ctx.stores.items() if name.lower() == environment.lower()), None)
        if store is None:
            return _error_response(ODataError(
                f"The environment '{environment}' does not exist for this tenant. Environments: "
                f"{', '.join(ctx.stores)}.", status=404, code="BadRequest_NotFound"))
        if not after or after[0] not in VERSIONS:
            return _error_response(_no_resource(str(request.url)))
        prefix = "/".join(p for p in (tenant, environment) if p is not None)
        root = f"{ctx.base_url}/v2.0/{prefix}/api/{after[0]}"
        return await run(_Call(ctx, request, store, root, after[0]), after[1:])

    basic_challenge = {"WWW-Authenticate": f'Basic realm="{ctx.onprem_instance}"'}

    def basic_ok(request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return bool(sep) and user.lower() == ctx.basic_user.lower() and hmac.compare_digest(
            password.encode(), ctx.basic_password.encode())

    async def onprem(request: Request) -> Response:
        if not basic_ok(request):
            return bc_error(401, "Authentication_InvalidCredentials",
                            "The server has rejected the client credentials.", headers=basic_challenge)
        tenant = request.query_params.get("tenant")
        if tenant is not None and tenant.lower() not in (tenant_names | {"default"}):
            return _error_response(ODataError(f"Tenant '{tenant}' was not found.", status=404,
                                              code="Internal_TenantUnavailable"))
        parts = split(request.path_params["rest"])
        if not parts or parts[0] not in VERSIONS:
            return _error_response(_no_resource(str(request.url)))
        store = ctx.stores.get(DEFAULT_ENVIRONMENT) or next(iter(ctx.stores.values()))
        root = f"{ctx.base_url}/{ctx.onprem_instance}/api/{parts[0]}"
        return await run(_Call(ctx, request, store, root, parts[0]), parts[1:])

    async def environments(request: Request) -> Response:
        if request.path_params["version"] not in ("v1.1", "v1.2"):
            return _error_response(_no_resource(str(request.url)))
        auth = bearer(request, None)
        if isinstance(auth, Response):
            return auth
        value = [
            {
                "aadTenantId": ctx.tenant_id,
                "applicationFamily": "BusinessCentral",
                "type": "Production" if name == DEFAULT_ENVIRONMENT else "Sandbox",
                "name": name,
                "countryCode": "US",
                "webServiceUrl": f"{ctx.base_url}/v2.0/{ctx.tenant_id}/{name}",
                "webClientLoginUrl": f"{ctx.base_url}/{ctx.tenant_id}/{name}/",
                "ringName": "PROD",
            }
            for name in ctx.stores
        ]
        return _json_response({"value": value})

    return [
        Route("/environments/{version:str}", environments, methods=["GET"]),
        # Every HTTP method reaches the handlers, so OPTIONS and the writes get Business Central's JSON 405
        # naming what the resource allows, not Starlette's plain-text one.
        Route("/v2.0/{rest:path}", cloud, methods=HTTP_METHODS),
        Route(f"/{ctx.onprem_instance}/api/{{rest:path}}", onprem, methods=HTTP_METHODS),
    ]
