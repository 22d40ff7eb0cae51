"""The entity data model the sandbox serves per API version, and its ``$metadata`` (OData CSDL 4.0 XML).

Field sets, lengths and navigation properties follow ``bc-api/SPEC.md`` (§1.2, §1.3, §1.4, §2) and, for
v1.0, Microsoft's published OpenAPI ``BCOAS1.0.yaml`` (a copy is in ``tests/data/``; the conformance test
checks the served v1.0 entities against it). The CSDL follows OASIS "OData Version 4.0 Part 3: CSDL":
an ``EntityContainer`` with an ``EntitySet`` per served set and ``NavigationPropertyBinding``s where the
target has a set, every referenced type defined, enums as ``EnumType``, ``Edm.Decimal`` with
``Scale="variable"`` (amounts keep their own decimals) and ``Edm.DateTimeOffset`` with ``Precision="3"``
(the values carry milliseconds, see ``data.iso_ms``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

from viewer.sandbox.odata import EntityType, Prop

NAMESPACE = "Microsoft.NAV"
VERSIONS = ("v2.0", "v1.0", "beta")
JOURNALS = "customerPaymentJournals"
PAYMENTS = "customerPayments"

_EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
_EDM = "http://docs.oasis-open.org/odata/ns/edm"

# ---- enums and complex types ---------------------------------------------------------------------------

# Member names are OData SimpleIdentifiers: Business Central writes a blank option as "_x0020_" and
# encodes spaces the same way ("In_x0020_Review").
ENUMS: dict[str, tuple[str, ...]] = {
    "contactType": ("Company", "Person"),
    "customerBlocked": ("_x0020_", "Ship", "Invoice", "All"),
    "salesInvoiceStatus": ("Draft", "In_x0020_Review", "Open", "Paid", "Canceled", "Corrective"),
    "dimensionSetLineParentType": ("Journal_x0020_Line", "Sales_x0020_Invoice"),
}


def _s(n: int | None = None) -> Prop:
    return Prop("string", n)


def _enum(name: str) -> Prop:
    return Prop("enum", type_name=name)


_G, _S, _I, _D = Prop("guid"), _s(), Prop("int"), Prop("decimal")
_DATE, _DT, _BOOL = Prop("date"), Prop("datetime"), Prop("bool")
_RO_GUID, _RO_DT = Prop("guid", read_only=True), Prop("datetime", read_only=True)

COMPLEX_TYPES: dict[str, dict[str, Prop]] = {
    "postalAddressType": {"street": _s(152), "city": _s(30), "state": _s(30), "countryLetterCode": _s(10),
                          "postalCode": _s(20)},
    "dimension": {"code": _s(20), "displayName": _s(30), "valueCode": _s(20), "valueDisplayName": _s(50)},
}
_ADDRESS = Prop("complex", type_name="postalAddressType")

# ---- the served entities (SPEC §1.2, §1.3, §2; BCOAS1.0 for v1.0) ----------------------------------------

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
    "contactId": _s(250), **_PAYMENT_COMMON_TAIL, "dimensions": Prop("collection", type_name="dimension"),
    "lastModifiedDateTime": _RO_DT,
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
    "taxLiable": _BOOL, "taxAreaId": _G, "taxAreaDisplayName": _S, "taxRegistrationNumber": _s(20),
    "currencyId": _G, "currencyCode": _S, "paymentTermsId": _G, "shipmentMethodId": _G, "paymentMethodId": _G,
}
CUSTOMER_V2 = {
    "id": _RO_GUID, "number": _s(20), "displayName": _s(100), "type": _enum("contactType"), "addressLine1": _s(100),
    "addressLine2": _s(50), "city": _s(30), "state": _s(30), "country": _s(10), "postalCode": _s(20),
    "phoneNumber": _s(30), "email": _s(80), "website": _s(80), "salespersonCode": _s(20), "balanceDue": _D,
    "creditLimit": _D, **_CUSTOMER_IDS, "blocked": _enum("customerBlocked"), "lastModifiedDateTime": _RO_DT,
}
CUSTOMER_V1 = {
    "id": _RO_GUID, "number": _s(20), "displayName": _s(100), "type": _enum("contactType"), "address": _ADDRESS,
    "phoneNumber": _s(30), "email": _s(80), "website": _s(80), **_CUSTOMER_IDS, "blocked": _enum("customerBlocked"),
    "lastModifiedDateTime": _RO_DT,
}
_INVOICE_HEAD: dict[str, Prop] = {"id": _RO_GUID, "number": _s(20), "externalDocumentNumber": _s(35),
                                  "invoiceDate": _DATE}
_INVOICE_TAIL: dict[str, Prop] = {
    "dueDate": _DATE, "customerPurchaseOrderReference": _s(35), "customerId": _G, "customerNumber": _s(20),
    "customerName": _s(100), "billToName": _s(100), "billToCustomerId": _G, "billToCustomerNumber": _s(20),
    "currencyId": _G, "currencyCode": _S, "pricesIncludeTax": _BOOL, "discountAmount": _D,
    "totalAmountExcludingTax": _D, "totalTaxAmount": _D, "totalAmountIncludingTax": _D, "remainingAmount": _D,
    "status": _enum("salesInvoiceStatus"), "lastModifiedDateTime": _RO_DT, "phoneNumber": _s(30), "email": _s(80),
}
INVOICE_V2 = {**_INVOICE_HEAD, "postingDate": _DATE, **_INVOICE_TAIL}
# BCOAS1.0's salesInvoice, every property in its order.
INVOICE_V1 = {
    **_INVOICE_HEAD, "dueDate": _DATE, "customerPurchaseOrderReference": _s(35), "customerId": _G,
    "contactId": _s(250), "customerNumber": _s(20), "customerName": _s(100), "billToName": _s(100),
    "billToCustomerId": _G, "billToCustomerNumber": _s(20), "shipToName": _s(100), "shipToContact": _s(100),
    "sellingPostalAddress": _ADDRESS, "billingPostalAddress": _ADDRESS, "shippingPostalAddress": _ADDRESS,
    "currencyId": _G, "currencyCode": _S, "orderId": _G, "orderNumber": _s(20), "paymentTermsId": _G,
    "shipmentMethodId": _G, "salesperson": _s(20), "pricesIncludeTax": _BOOL, "remainingAmount": _D,
    "discountAmount": _D, "discountAppliedBeforeTax": _BOOL, "totalAmountExcludingTax": _D, "totalTaxAmount": _D,
    "totalAmountIncludingTax": _D, "status": _enum("salesInvoiceStatus"), "lastModifiedDateTime": _RO_DT,
    "phoneNumber": _s(30), "email": _s(80),
}

# ---- entities reached only by navigation ($expand or a path segment) -------------------------------------

_CODED = {"id": _RO_GUID, "code": _s(10), "displayName": _s(100), "lastModifiedDateTime": _RO_DT}
ACCOUNT = EntityType("account", {
    "id": _RO_GUID, "number": _s(20), "displayName": _s(100), "category": _S, "subCategory": _s(80),
    "blocked": _BOOL, "lastModifiedDateTime": _RO_DT})
CURRENCY = EntityType("currency", {
    "id": _RO_GUID, "code": _s(10), "displayName": _s(30), "symbol": _s(10), "amountDecimalPlaces": _s(5),
    "amountRoundingPrecision": _D, "lastModifiedDateTime": _RO_DT})
PAYMENT_TERM = EntityType("paymentTerm", {
    "id": _RO_GUID, "code": _s(10), "displayName": _s(100), "dueDateCalculation": _S,
    "discountDateCalculation": _S, "discountPercent": _D, "calculateDiscountOnCreditMemos": _BOOL,
    "lastModifiedDateTime": _RO_DT})
SHIPMENT_METHOD = EntityType("shipmentMethod", _CODED)
PAYMENT_METHOD = EntityType("paymentMethod", _CODED)
FINANCIAL_DETAIL = EntityType("customerFinancialDetail", {
    "id": _RO_GUID, "number": _s(20), "balance": _D, "totalSalesExcludingTax": _D, "overdueAmount": _D})
PICTURE = EntityType("picture", {"id": _RO_GUID, "width": _I, "height": _I, "contentType": _s(100),
                                 "content": Prop("stream")})
DEFAULT_DIMENSION = EntityType("defaultDimension", {
    "parentId": _G, "dimensionId": _G, "dimensionCode": _s(20), "dimensionValueId": _G,
    "dimensionValueCode": _s(20), "postingValidation": _S}, key=("parentId", "dimensionId"))
INVOICE_LINE = EntityType("salesInvoiceLine", {
    "id": _s(50), "documentId": _G, "sequence": _I, "itemId": _G, "accountId": _G, "lineType": _S,
    "description": _s(100), "unitOfMeasureId": _G, "unitPrice": _D, "quantity": _D, "discountAmount": _D,
    "discountPercent": _D, "discountAppliedBeforeTax": _BOOL, "amountExcludingTax": _D, "taxCode": _s(50),
    "taxPercent": _D, "totalTaxAmount": _D, "amountIncludingTax": _D, "invoiceDiscountAllocation": _D,
    "netAmount": _D, "netTaxAmount": _D, "netAmountIncludingTax": _D, "shipmentDate": _DATE})
PDF_DOCUMENT = EntityType("pdfDocument", {"id": _RO_GUID, "content": Prop("stream")})
DIMENSION_SET_LINE = EntityType("dimensionSetLine", {
    "id": _RO_GUID, "code": _s(20), "parentId": _G, "parentType": _enum("dimensionSetLineParentType"),
    "displayName": _s(30), "valueId": _G, "valueCode": _s(20), "valueDisplayName": _s(50)})

# The sets a company holds (its navigation properties), in service-document order.
COMPANY_SETS = (JOURNALS, PAYMENTS, "customers", "salesInvoices")


@dataclass(frozen=True)
class Schema:
    """One API version: the entity types, and the entity set serving each (keyed by set name)."""

    company: EntityType
    journal: EntityType
    payment: EntityType
    customer: EntityType
    invoice: EntityType
    entity_sets: Mapping[str, EntityType]

    def types(self) -> list[EntityType]:
        """Every entity type reachable from the sets, each once, in a stable order."""
        seen: dict[str, EntityType] = {}
        pending = list(self.entity_sets.values())
        while pending:
            etype = pending.pop(0)
            if etype.name not in seen:
                seen[etype.name] = etype
                pending.extend(etype.navigations.values())
        return list(seen.values())


def _schema(version: str) -> Schema:
    v2 = version == "v2.0"
    customer = EntityType(
        "customer", CUSTOMER_V2 if v2 else CUSTOMER_V1,
        {"customerFinancialDetails": FINANCIAL_DETAIL, "picture": PICTURE, "defaultDimensions": DEFAULT_DIMENSION,
         "currency": CURRENCY, "paymentTerm": PAYMENT_TERM, "shipmentMethod": SHIPMENT_METHOD,
         "paymentMethod": PAYMENT_METHOD},
        many=frozenset({"customerFinancialDetails", "picture", "defaultDimensions"}),
    )
    plain_journal = EntityType("customerPaymentJournal", JOURNAL_PROPS, {"account": ACCOUNT})
    payment_navs: dict[str, EntityType] = {"customer": customer}
    if v2:
        payment_navs |= {"customerPaymentJournal": plain_journal, "dimensionSetLines": DIMENSION_SET_LINE}
    payment = EntityType("customerPayment", PAYMENT_V2 if v2 else PAYMENT_V1, payment_navs,
                         many=frozenset({"dimensionSetLines"}))
    journal = EntityType("customerPaymentJournal", JOURNAL_PROPS, {PAYMENTS: payment, "account": ACCOUNT},
                         many=frozenset({PAYMENTS}))
    invoice = EntityType(
        "salesInvoice", INVOICE_V2 if v2 else INVOICE_V1,
        {"salesInvoiceLines": INVOICE_LINE, "pdfDocument": PDF_DOCUMENT, "customer": customer, "currency": CURRENCY,
         "paymentTerm": PAYMENT_TERM, "shipmentMethod": SHIPMENT_METHOD},
        many=frozenset({"salesInvoiceLines", "pdfDocument"}),
    )
    sets = dict(zip(COMPANY_SETS, (journal, payment, customer, invoice), strict=True))
    company = EntityType("company", COMPANY_V2 if v2 else COMPANY_V1, sets, many=frozenset(COMPANY_SETS))
    return Schema(company=company, journal=journal, payment=payment, customer=customer, invoice=invoice,
                  entity_sets={"companies": company, **sets})


SCHEMAS = {version: _schema(version) for version in VERSIONS}

# ---- $metadata ---------------------------------------------------------------------------------------------

_PRIMITIVES = {
    "guid": "Edm.Guid", "string": "Edm.String", "int": "Edm.Int32", "int64": "Edm.Int64", "decimal": "Edm.Decimal",
    "date": "Edm.Date", "datetime": "Edm.DateTimeOffset", "bool": "Edm.Boolean", "stream": "Edm.Stream",
}


def edm_type(prop: Prop) -> str:
    """The CSDL ``Type`` of a property."""
    if prop.kind in ("enum", "complex", "collection"):
        assert prop.type_name is not None, "enum, complex and collection properties name their type"
        qualified = f"{NAMESPACE}.{prop.type_name}"
        return f"Collection({qualified})" if prop.kind == "collection" else qualified
    return _PRIMITIVES[prop.kind]


def _property(parent: ET.Element, name: str, prop: Prop, key: bool = False) -> None:
    attrs = {"Name": name, "Type": edm_type(prop)}
    if key:
        attrs["Nullable"] = "false"
    if prop.max_length is not None:
        attrs["MaxLength"] = str(prop.max_length)
    if prop.kind == "decimal":
        attrs["Scale"] = "variable"
    elif prop.kind == "datetime":
        attrs["Precision"] = "3"
    ET.SubElement(parent, f"{{{_EDM}}}Property", attrs)


def metadata_xml(schema: Schema) -> str:
    """The version's CSDL 4.0 document (EDMX), as ``GET …/$metadata`` answers it."""
    ET.register_namespace("edmx", _EDMX)
    ET.register_namespace("", _EDM)
    root = ET.Element(f"{{{_EDMX}}}Edmx", {"Version": "4.0"})
    services = ET.SubElement(root, f"{{{_EDMX}}}DataServices")
    node = ET.SubElement(services, f"{{{_EDM}}}Schema", {"Namespace": NAMESPACE, "Alias": "NAV"})
    for name, members in ENUMS.items():
        enum = ET.SubElement(node, f"{{{_EDM}}}EnumType", {"Name": name})
        for value, member in enumerate(members):
            ET.SubElement(enum, f"{{{_EDM}}}Member", {"Name": member, "Value": str(value)})
    for name, props in COMPLEX_TYPES.items():
        complex_type = ET.SubElement(node, f"{{{_EDM}}}ComplexType", {"Name": name})
        for prop_name, prop in props.items():
            _property(complex_type, prop_name, prop)
    types = schema.types()
    for etype in types:
        entity = ET.SubElement(node, f"{{{_EDM}}}EntityType", {"Name": etype.name})
        key = ET.SubElement(entity, f"{{{_EDM}}}Key")
        for name in etype.key:
            ET.SubElement(key, f"{{{_EDM}}}PropertyRef", {"Name": name})
        for name, prop in etype.props.items():
            _property(entity, name, prop, key=name in etype.key)
        for nav, target in etype.navigations.items():
            kind = f"{NAMESPACE}.{target.name}"
            ET.SubElement(entity, f"{{{_EDM}}}NavigationProperty",
                          {"Name": nav, "Type": f"Collection({kind})" if nav in etype.many else kind})
    container = ET.SubElement(node, f"{{{_EDM}}}EntityContainer", {"Name": "default"})
    set_of = {etype.name: name for name, etype in schema.entity_sets.items()}
    for set_name, etype in schema.entity_sets.items():
        entity_set = ET.SubElement(container, f"{{{_EDM}}}EntitySet",
                                   {"Name": set_name, "EntityType": f"{NAMESPACE}.{etype.name}"})
        for nav, target in etype.navigations.items():
            if target.name in set_of:
                ET.SubElement(entity_set, f"{{{_EDM}}}NavigationPropertyBinding",
                              {"Path": nav, "Target": set_of[target.name]})
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")
