"""The Business Central API routes of the sandbox: cloud (bearer) and on-prem (Basic), API v2.0/v1.0/beta.

Paths, field sets, envelopes and errors follow ``bc-api/SPEC.md``. Routing is done here rather than with
one Starlette route per entity because OData keys (``companies(<guid>)``) are part of path segments.
Unknown ids answer 404 ``Internal_RecordNotFound`` ("The <table> does not exist. …"), unknown segments
404 ``BadRequest_ResourceNotFound``, unknown versions or URL shapes 404 ``BadRequest_NotFound``.
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

from viewer.sandbox.bcerrors import bc_error, unauthorized
from viewer.sandbox.data import DataError, DataStore
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
VERSIONS = ("v2.0", "v1.0", "beta")
JOURNALS = "customerPaymentJournals"
JOURNALS_ALIAS = "customerPaymentsJournals"  # the docs' misspelling (SPEC §1.1), accepted on purpose
PAYMENTS = "customerPayments"
POST_ACTION = "Microsoft.NAV.post"
DEFAULT_ENVIRONMENT = "production"
MUST_FILTER = "You must specify a journal batch ID or a journal ID to get a journal line."
ALL_METHODS = ["GET", "POST", "PATCH", "DELETE", "PUT"]


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


# ---- field sets per API version (SPEC §1.2, §1.3, §2) -----------------------------------------------

_G, _S, _I, _D = Prop("guid"), Prop("string"), Prop("int"), Prop("decimal")
_DATE, _DT = Prop("date"), Prop("datetime")
_RO_GUID, _RO_DT = Prop("guid", read_only=True), Prop("datetime", read_only=True)


def _s(n: int) -> Prop:
    return Prop("string", n)


_PAYMENT_COMMON_HEAD: dict[str, Prop] = {"lineNumber": _I, "customerId": _G, "customerNumber": _s(20)}
_PAYMENT_COMMON_TAIL: dict[str, Prop] = {
    "postingDate": _DATE, "documentNumber": _s(20), "externalDocumentNumber": _s(35), "amount": _D,
    "appliesToInvoiceId": _G, "appliesToInvoiceNumber": _s(20), "description": _s(100), "comment": _s(250),
}
PAYMENT_V2 = {
    "id": _RO_GUID, "journalId": _G, "journalDisplayName": _s(10), **_PAYMENT_COMMON_HEAD, **_PAYMENT_COMMON_TAIL,
    "lastModifiedDateTime": _RO_DT,
}
PAYMENT_V1 = {
    "id": _RO_GUID, "journalDisplayName": Prop("string", read_only=True), **_PAYMENT_COMMON_HEAD,
    "contactId": _s(250), **_PAYMENT_COMMON_TAIL, "dimensions": Prop("collection"), "lastModifiedDateTime": _RO_DT,
}
JOURNAL_PROPS = {
    "id": _RO_GUID, "code": _s(10), "displayName": _s(100), "lastModifiedDateTime": _RO_DT,
    "balancingAccountId": _G, "balancingAccountNumber": Prop("string", 20, read_only=True),
}
COMPANY_V2 = {
    "id": _RO_GUID, "systemVersion": _S, "timestamp": Prop("int64"), "name": _s(30), "displayName": _s(250),
    "businessProfileId": _s(250), "systemCreatedAt": _DT, "systemCreatedBy": _G, "systemModifiedAt": _DT,
    "systemModifiedBy": _G,
}
COMPANY_V1 = {k: COMPANY_V2[k] for k in ("id", "systemVersion", "name", "displayName", "businessProfileId")}
_CUSTOMER_IDS: dict[str, Prop] = {
    "taxLiable": Prop("bool"), "taxAreaId": _G, "taxAreaDisplayName": _S, "taxRegistrationNumber": _S,
    "currencyId": _G, "currencyCode": _S, "paymentTermsId": _G, "shipmentMethodId": _G, "paymentMethodId": _G,
}
CUSTOMER_V2 = {
    "id": _RO_GUID, "number": _s(20), "displayName": _s(100), "type": Prop("enum"), "addressLine1": _s(100),
    "addressLine2": _s(50), "city": _s(30), "state": _s(30), "country": _s(10), "postalCode": _s(20),
    "phoneNumber": _s(30), "email": _s(80), "website": _s(80), "salespersonCode": _s(20), "balanceDue": _D,
    "creditLimit": _D, **_CUSTOMER_IDS, "blocked": Prop("enum"), "lastModifiedDateTime": _RO_DT,
}
CUSTOMER_V1 = {
    "id": _RO_GUID, "number": _s(20), "displayName": _s(100), "type": Prop("enum"), "address": Prop("complex"),
    "phoneNumber": _s(30), "email": _s(80), "website": _s(80), **_CUSTOMER_IDS, "blocked": Prop("enum"),
    "lastModifiedDateTime": _RO_DT,
}
_INVOICE_HEAD: dict[str, Prop] = {"id": _RO_GUID, "number": _s(20), "externalDocumentNumber": _s(35),
                                  "invoiceDate": _DATE}
_INVOICE_TAIL: dict[str, Prop] = {
    "dueDate": _DATE, "customerPurchaseOrderReference": _s(35), "customerId": _G, "customerNumber": _s(20),
    "customerName": _S, "billToName": _S, "billToCustomerId": _G, "billToCustomerNumber": _s(20),
    "currencyId": _G, "currencyCode": _S, "pricesIncludeTax": Prop("bool"), "discountAmount": _D,
    "totalAmountExcludingTax": _D, "totalTaxAmount": _D, "totalAmountIncludingTax": _D, "remainingAmount": _D,
    "status": Prop("enum"), "lastModifiedDateTime": _RO_DT, "phoneNumber": _S, "email": _S,
}
INVOICE_V2 = {**_INVOICE_HEAD, "postingDate": _DATE, **_INVOICE_TAIL}
INVOICE_V1 = {**_INVOICE_HEAD, **_INVOICE_TAIL}

# The table behind each entity, for "The <table> does not exist." messages.
_TABLES = {
    "company": "Company", "customerPaymentJournal": "Gen. Journal Batch", "customerPayment": "Gen. Journal Line",
    "customer": "Customer", "salesInvoice": "Sales Invoice Entity Aggregate",
}


@dataclass(frozen=True)
class Schema:
    company: EntityType
    journal: EntityType
    payment: EntityType
    customer: EntityType
    invoice: EntityType


def _schema(version: str) -> Schema:
    v2 = version == "v2.0"
    customer = EntityType("customer", CUSTOMER_V2 if v2 else CUSTOMER_V1)
    plain_journal = EntityType("customerPaymentJournal", JOURNAL_PROPS)
    payment_navs: dict[str, EntityType] = {"customer": customer}
    if v2:
        payment_navs["customerPaymentJournal"] = plain_journal
    payment = EntityType("customerPayment", PAYMENT_V2 if v2 else PAYMENT_V1, payment_navs)
    return Schema(
        company=EntityType("company", COMPANY_V2 if v2 else COMPANY_V1),
        journal=EntityType("customerPaymentJournal", JOURNAL_PROPS, {PAYMENTS: payment}),
        payment=payment,
        customer=customer,
        invoice=EntityType("salesInvoice", INVOICE_V2 if v2 else INVOICE_V1, {"customer": customer}),
    )


SCHEMAS = {version: _schema(version) for version in VERSIONS}


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
    return bc_error(exc.status, exc.code, exc.message, headers={"OData-Version": "4.0", **(headers or {})})


def _method_not_allowed(method: str, name: str, kind: str) -> ODataError:
    return ODataError(
        f"'{method}' requests for '{name}' of EdmType '{kind}' are not allowed within Dynamics 365 Business "
        "Central OData web services.", status=405, code="BadRequest_MethodNotAllowed")


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
        self.prefix: list[str] = []  # context path parts before the entity set, e.g. ["companies(<id>)"]

    # -- responses --

    def context(self, parts: Sequence[str], select: Sequence[str] | None, entity: bool) -> str:
        path = [*self.prefix, *parts]
        last = path[-1] + (f"({','.join(select)})" if select else "")
        tail = "/".join([*path[:-1], last]) + ("/$entity" if entity else "")
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
        company = str(record.get("_company", ""))
        if nav == "customer":
            return self.store.customer(str(record.get("customerId", "")), company)
        if nav == "customerPaymentJournal":
            return self.store.journal(company, str(record.get("journalId", "")))
        if nav == PAYMENTS:
            return self.store.journal_payments(str(record["id"]))
        raise etype.unknown(nav)

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
            raise _method_not_allowed(self.method, name, kind)

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
            if head.key is None:
                if len(segments) > 1:
                    raise _resource_not_found(segments[1].raw)
                self.allow(["GET"], "companies", "EntitySet")
                return self.collection(self.store.companies(), self.schema.company, ["companies"], etag=False)
            company_id = _guid(head.key)
            company = self.store.company(company_id)
            if company is None:
                raise _record_not_found(self.schema.company, head.key)
            self.prefix = [f"companies({company_id})"]
            rest = segments[1:]
            if not rest:
                self.allow(["GET"], "companies", "Entity")
                self.prefix = []
                return self.entity(company, self.schema.company, ["companies"], etag=False)
            return await self.company_level(company_id, rest)
        company_param = self.request.query_params.get("company")
        if company_param is not None:
            found = self.find_company(company_param)
            return await self.company_level(str(found["id"]), segments)
        if head.name in (JOURNALS, JOURNALS_ALIAS, PAYMENTS, "customers", "salesInvoices"):
            raise ODataError("Cannot determine the company: put companies({id}) in the path or add ?company={id}.",
                             code="Internal_CompanyNotFound")
        raise _resource_not_found(head.raw)

    def find_company(self, value: str) -> Record:
        try:
            found = self.store.company(str(uuid.UUID(value.strip("{}'"))))
        except ValueError:
            found = self.store.company_by_name(value)
        if found is None:
            raise ODataError(f"Cannot find the company '{value}'.", status=404, code="Internal_CompanyNotFound")
        return found

    async def company_level(self, company_id: str, rest: list[Segment]) -> Response:
        head = rest[0]
        name = JOURNALS if head.name == JOURNALS_ALIAS else head.name
        schema = self.schema
        if name == JOURNALS:
            if head.key is None:
                if len(rest) > 1:
                    raise _resource_not_found(rest[1].raw)
                self.allow(["GET"], JOURNALS, "EntitySet")
                return self.collection(self.store.journals(company_id), schema.journal, [JOURNALS])
            journal = self.store.journal(company_id, _guid(head.key))
            if journal is None:
                raise _record_not_found(schema.journal, head.key)
            journal_part = f"{JOURNALS}({journal['id']})"
            if len(rest) == 1:
                self.allow(["GET"], JOURNALS, "Entity")
                return self.entity(journal, schema.journal, [JOURNALS])
            sub = rest[1]
            if sub.name == POST_ACTION and sub.key is None and len(rest) == 2:
                self.allow(["POST"], "post", "Action")
                self.store.post_journal(company_id, str(journal["id"]))
                return Response(status_code=204, headers=_standard_headers())
            if sub.name != PAYMENTS or len(rest) > 3:
                raise _resource_not_found(sub.raw if sub.name != PAYMENTS else rest[3].raw)
            if sub.key is None:
                return await self.payments_collection(company_id, journal, [journal_part, PAYMENTS])
            payment = self.store.payment(_guid(sub.key), company_id)
            if payment is None or payment["journalId"] != journal["id"]:
                raise _record_not_found(schema.payment, sub.key)
            return await self.payment_entity(company_id, payment, [journal_part, PAYMENTS])
        if name == PAYMENTS:
            if len(rest) > 1:
                raise _resource_not_found(rest[1].raw)
            if head.key is None:
                return await self.payments_collection(company_id, None, [PAYMENTS])
            payment = self.store.payment(_guid(head.key), company_id)
            if payment is None:
                raise _record_not_found(schema.payment, head.key)
            return await self.payment_entity(company_id, payment, [PAYMENTS])
        if name in ("customers", "salesInvoices"):
            etype = schema.customer if name == "customers" else schema.invoice
            if len(rest) > 1:
                raise _resource_not_found(rest[1].raw)
            if head.key is None:
                self.allow(["GET"], name, "EntitySet")
                rows = self.store.customers(company_id) if name == "customers" else self.store.invoices(company_id)
                return self.collection(rows, etype, [name])
            key = _guid(head.key)
            found = self.store.customer(key, company_id) if name == "customers" else self.store.invoice(key, company_id)
            if found is None:
                raise _record_not_found(etype, head.key)
            self.allow(["GET"], name, "Entity")
            return self.entity(found, etype, [name])
        raise _resource_not_found(head.raw)

    async def payments_collection(self, company_id: str, journal: Record | None, parts: list[str]) -> Response:
        etype = self.schema.payment
        if self.method == "POST":
            return await self.create_payment(company_id, journal, parts)
        self.allow(["GET", "POST"], PAYMENTS, "EntitySet")
        query = self.query(etype)
        if journal is not None:
            return self.collection(self.store.journal_payments(str(journal["id"])), etype, parts, query=query)
        # The direct set: Business Central's page refuses to list lines without a journal or id filter.
        if query.filter is None or not ({"journalId", "id"} & query.filter.fields):
            raise ODataError(MUST_FILTER, code="Application_DialogException")
        equals = query.filter.equals
        rows: Sequence[Record]
        if isinstance(equals.get("id"), str):
            one = self.store.payment(equals["id"], company_id)
            rows = [one] if one is not None else []
        elif isinstance(equals.get("journalId"), str):
            found = self.store.journal(company_id, equals["journalId"])
            rows = self.store.journal_payments(str(found["id"])) if found is not None else []
        else:
            rows = self.store.company_payments(company_id)
        return self.collection(rows, etype, parts, query=query)

    async def payment_entity(self, company_id: str, payment: Record, parts: list[str]) -> Response:
        self.allow(["GET", "PATCH", "DELETE"], PAYMENTS, "Entity")
        if self.method == "GET":
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
        location = f"{self.root}/{'/'.join(self.prefix + parts)}({record['id']})"
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
        sets = ["companies", JOURNALS, PAYMENTS, "customers", "salesInvoices"]
        body = {"@odata.context": f"{self.root}/$metadata",
                "value": [{"name": s, "kind": "EntitySet", "url": s} for s in sets]}
        return _json_response(body)

    def metadata(self) -> Response:
        """A small EDMX describing the emulated entity types (enough for tools that read types)."""
        edm = {"guid": "Edm.Guid", "string": "Edm.String", "enum": "Edm.String", "int": "Edm.Int32",
               "int64": "Edm.Int64", "decimal": "Edm.Decimal", "date": "Edm.Date", "bool": "Edm.Boolean",
               "datetime": "Edm.DateTimeOffset", "collection": "Collection(Microsoft.NAV.dimension)",
               "complex": "Microsoft.NAV.postalAddressType"}
        schema = self.schema
        types = [schema.company, schema.journal, schema.payment, schema.customer, schema.invoice]
        lines = ['<?xml version="1.0" encoding="utf-8"?>',
                 '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
                 "<edmx:DataServices>",
                 '<Schema Namespace="Microsoft.NAV" xmlns="http://docs.oasis-open.org/odata/ns/edm">']
        for etype in types:
            lines.append(f'<EntityType Name="{etype.name}"><Key><PropertyRef Name="id"/></Key>')
            for name, prop in etype.props.items():
                facets = ' Nullable="false"' if name == "id" else ""
                if prop.max_length:
                    facets += f' MaxLength="{prop.max_length}"'
                lines.append(f'<Property Name="{name}" Type="{edm[prop.kind]}"{facets}/>')
            for nav, target in etype.navigations.items():
                many = nav == PAYMENTS
                kind = f"Collection(Microsoft.NAV.{target.name})" if many else f"Microsoft.NAV.{target.name}"
                lines.append(f'<NavigationProperty Name="{nav}" Type="{kind}"/>')
            lines.append("</EntityType>")
        lines += ["</Schema>", "</edmx:DataServices>", "</edmx:Edmx>"]
        return Response("\n".join(lines), headers=_standard_headers(), media_type="application/xml")


# ---- authentication and the routes -----------------------------------------------------------------


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
        Route("/v2.0/{rest:path}", cloud, methods=ALL_METHODS),
        Route(f"/{ctx.onprem_instance}/api/{{rest:path}}", onprem, methods=ALL_METHODS),
    ]
