"""``$metadata`` for beta, v1.0 and v2.0 is valid OData CSDL 4.0 and describes what is served.

Read twice: by an independent CSDL reader (python-odata's ``MetaData``, which builds entity classes with
typed properties from EntityContainer, EntitySet, EntityType, EnumType and NavigationProperty), and by
structural checks written from OASIS "OData Version 4.0 Part 3: CSDL" (§4 EDMX, §6 properties and facets,
§7 navigation, §10 enums, §13 container) for what that reader does not look at (complex types, facets,
bindings). Then every served property of every served entity is checked against its declaration.
"""

from __future__ import annotations

import inspect
import io
import re
import uuid
import xml.etree.ElementTree as ET
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import rich.console
from odata.enumtype import EnumTypeProperty
from odata.metadata import MetaData
from odata.property import (
    BooleanProperty,
    DatetimeProperty,
    DecimalProperty,
    IntegerProperty,
    NavigationProperty,
    StringProperty,
    UUIDProperty,
)

from viewer.sandbox import Sandbox

EDMX = "{http://docs.oasis-open.org/odata/ns/edmx}"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
PRIMITIVES = {"Edm.Guid", "Edm.String", "Edm.Int32", "Edm.Int64", "Edm.Decimal", "Edm.Date", "Edm.DateTimeOffset",
              "Edm.Boolean", "Edm.Stream"}
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
VERSIONS = ["v2.0", "v1.0", "beta"]


class _Reader(MetaData):  # type: ignore[misc]
    """python-odata's metadata reader, handed the document instead of fetching it itself."""

    def __init__(self, document: bytes) -> None:  # no service: nothing is fetched or called
        self.document = document
        self.console = rich.console.Console(file=io.StringIO())
        self.quiet = True

    def load_document(self) -> Any:
        from odata import metadata

        return metadata.ET.fromstring(self.document)


def _headers(sandbox: Sandbox) -> dict[str, str]:
    assert sandbox.identity is not None
    return {"Authorization": f"Bearer {sandbox.identity.issue_access_token()}"}


def _root(sandbox: Sandbox, version: str) -> str:
    assert sandbox.info is not None
    return f"{sandbox.info.api_root}/{version}"


def _metadata(sandbox: Sandbox, http: httpx.Client, version: str) -> bytes:
    response = http.get(f"{_root(sandbox, version)}/$metadata", headers=_headers(sandbox))
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
    return response.content


def _type_name(text: str) -> tuple[bool, str]:
    if text.startswith("Collection(") and text.endswith(")"):
        return True, text[len("Collection("):-1]
    return False, text


@pytest.mark.parametrize("version", VERSIONS)
def test_an_independent_reader_finds_every_set_type_and_enum(sandbox: Sandbox, http: httpx.Client,
                                                            version: str) -> None:
    # python-odata turns an EnumType into a Python Enum, which cannot hold a member named "_x0020_" (Python
    # reserves _sunder_ names). That is Business Central's blank option and a valid CSDL SimpleIdentifier
    # (the structural test checks the real document); only the reader's copy renames it.
    document = _metadata(sandbox, http, version).replace(b'Name="_x0020_"', b'Name="blank"')
    reader = _Reader(document)
    _base, sets, types = reader.get_entity_sets()
    assert {"companies", "customerPaymentJournals", "customerPayments", "customers", "salesInvoices"} <= set(sets)
    assert "Microsoft.NAV.customerBlocked" in types
    assert isinstance(inspect.getattr_static(sets["customerPayments"], "customer"), NavigationProperty)
    assert isinstance(inspect.getattr_static(sets["companies"], "customerPaymentJournals"), NavigationProperty)

    # Every property of what the sandbox serves is declared, with a type the reader maps its JSON value to.
    d = sandbox.store().demo
    base = f"{_root(sandbox, version)}/companies({d.company_id})"
    urls = {"companies": f"{_root(sandbox, version)}/companies", "customers": f"{base}/customers",
            "salesInvoices": f"{base}/salesInvoices", "customerPaymentJournals": f"{base}/customerPaymentJournals",
            "customerPayments": f"{base}/customerPaymentJournals({d.journal_id})/customerPayments"}
    for set_name, url in urls.items():
        rows = http.get(url, headers=_headers(sandbox)).json()["value"]
        assert rows, set_name
        cls = sets[set_name]
        for row in rows:
            for name, value in row.items():
                if name.startswith("@odata."):
                    continue
                prop = inspect.getattr_static(cls, name, None)
                assert prop is not None, f"{set_name}.{name} is served but the reader finds no declaration"
                where = f"{set_name}.{name}={value!r}"
                if isinstance(prop, EnumTypeProperty):
                    prop.deserialize("blank" if value == "_x0020_" else value)  # KeyError unless a member
                elif isinstance(prop, UUIDProperty):
                    assert str(uuid.UUID(value)) == value, where
                elif isinstance(prop, DatetimeProperty):
                    assert prop.deserialize(value).tzinfo is not None, where
                elif isinstance(prop, DecimalProperty):
                    assert isinstance(value, int | float) and not isinstance(value, bool), where
                elif isinstance(prop, IntegerProperty):
                    assert isinstance(value, int) and not isinstance(value, bool), where
                elif isinstance(prop, BooleanProperty):
                    assert isinstance(value, bool), where
                else:  # Edm.String, Edm.Date and the complex types, which this reader keeps as strings
                    assert isinstance(prop, StringProperty), where
                    assert isinstance(value, str | dict | list), where


@pytest.mark.parametrize("version", VERSIONS)
def test_metadata_is_structurally_valid_csdl(sandbox: Sandbox, http: httpx.Client, version: str) -> None:
    root = ET.fromstring(_metadata(sandbox, http, version))
    assert root.tag == f"{EDMX}Edmx" and root.get("Version") == "4.0"
    schemas = root.findall(f"{EDMX}DataServices/{EDM}Schema")
    assert len(schemas) == 1
    schema = schemas[0]
    namespace = schema.get("Namespace")
    assert namespace == "Microsoft.NAV"
    alias = schema.get("Alias")
    names = [el.get("Name") for el in schema]
    assert len(names) == len(set(names)), "schema children must have unique names"

    def qualified(kind: str) -> dict[str, ET.Element]:
        return {f"{namespace}.{el.get('Name')}": el for el in schema.findall(f"{EDM}{kind}")}

    enums, complexes, entities = qualified("EnumType"), qualified("ComplexType"), qualified("EntityType")
    assert enums and complexes and entities

    def resolve(text: str | None) -> str:
        assert text is not None
        if alias and text.startswith(f"{alias}."):
            return f"{namespace}.{text[len(alias) + 1:]}"
        return text

    for name, enum in enums.items():
        members = enum.findall(f"{EDM}Member")
        assert members, name
        assert all(IDENTIFIER.match(m.get("Name", "")) for m in members), name
        values = [int(m.get("Value", "x")) for m in members]
        assert len(set(values)) == len(values), name

    def check_property(owner: str, prop: ET.Element) -> None:
        _many, type_name = _type_name(resolve(prop.get("Type")))
        assert IDENTIFIER.match(prop.get("Name", "")), owner
        assert type_name in PRIMITIVES or type_name in enums or type_name in complexes, (owner, type_name)
        if type_name == "Edm.Decimal":
            scale = prop.get("Scale")
            assert scale == "variable" or (scale or "").isdigit(), (owner, prop.get("Name"))
        if type_name == "Edm.DateTimeOffset":
            assert prop.get("Precision") is not None and 0 <= int(prop.get("Precision", "-1")) <= 12
        if prop.get("MaxLength") is not None:
            assert type_name == "Edm.String" and int(prop.get("MaxLength", "0")) > 0

    for name, complex_type in complexes.items():
        for prop in complex_type.findall(f"{EDM}Property"):
            check_property(name, prop)
    for name, entity in entities.items():
        props = {p.get("Name"): p for p in entity.findall(f"{EDM}Property")}
        for prop in props.values():
            check_property(name, prop)
        refs = entity.findall(f"{EDM}Key/{EDM}PropertyRef")
        assert refs, f"{name} has no key"
        for ref in refs:
            key = props[ref.get("Name")]
            assert key.get("Nullable") == "false", name
            assert resolve(key.get("Type")) in PRIMITIVES
        for nav in entity.findall(f"{EDM}NavigationProperty"):
            _many, target = _type_name(resolve(nav.get("Type")))
            assert target in entities, (name, nav.get("Name"), target)
            assert nav.get("Name") not in props

    containers = schema.findall(f"{EDM}EntityContainer")
    assert len(containers) == 1
    sets = {s.get("Name"): s for s in containers[0].findall(f"{EDM}EntitySet")}
    service = http.get(_root(sandbox, version), headers=_headers(sandbox)).json()["value"]
    assert {s["name"] for s in service} == set(sets), "the service document lists exactly the container's sets"
    set_types = {resolve(s.get("EntityType")) for s in sets.values()}
    for set_name, entity_set in sets.items():
        set_type = resolve(entity_set.get("EntityType"))
        assert set_type in entities, set_name
        navs = {n.get("Name"): _type_name(resolve(n.get("Type")))[1]
                for n in entities[set_type].findall(f"{EDM}NavigationProperty")}
        bound = set()
        for binding in entity_set.findall(f"{EDM}NavigationPropertyBinding"):
            target_set = sets[binding.get("Target")]
            assert navs[binding.get("Path")] == resolve(target_set.get("EntityType")), (set_name, binding.attrib)
            bound.add(binding.get("Path"))
        # Every navigation to a type that has a set says which set (§13.4).
        assert bound == {nav for nav, target in navs.items() if target in set_types}, set_name
    assert len(sets) == 5 and len(entities) > 5


# ---- every served value is what its declaration says --------------------------------------------------------


class _Declarations:
    def __init__(self, document: bytes) -> None:
        root = ET.fromstring(document)
        schema = root.find(f"{EDMX}DataServices/{EDM}Schema")
        assert schema is not None
        self.namespace = schema.get("Namespace", "")
        self.enums = {f"{self.namespace}.{e.get('Name')}": {m.get("Name") for m in e.findall(f"{EDM}Member")}
                      for e in schema.findall(f"{EDM}EnumType")}
        self.structured: dict[str, dict[str, ET.Element]] = {}
        self.navigations: dict[str, dict[str, str]] = {}
        for kind in ("ComplexType", "EntityType"):
            for el in schema.findall(f"{EDM}{kind}"):
                name = f"{self.namespace}.{el.get('Name')}"
                self.structured[name] = {str(p.get("Name")): p for p in el.findall(f"{EDM}Property")}
                self.navigations[name] = {str(n.get("Name")): str(n.get("Type"))
                                          for n in el.findall(f"{EDM}NavigationProperty")}
        container = schema.find(f"{EDM}EntityContainer")
        assert container is not None
        self.sets = {str(s.get("Name")): str(s.get("EntityType")) for s in container.findall(f"{EDM}EntitySet")}

    def check(self, value: Any, type_text: str, prop: ET.Element | None, where: str) -> None:
        many, type_name = _type_name(type_text)
        if many:
            assert isinstance(value, list), where
            for i, item in enumerate(value):
                self.check(item, type_name, prop, f"{where}[{i}]")
            return
        if value is None:
            assert prop is None or prop.get("Nullable") != "false", where
            return
        if type_name in self.structured:
            self.check_structured(value, type_name, where)
        elif type_name in self.enums:
            assert value in self.enums[type_name], where
        elif type_name == "Edm.Guid":
            assert str(uuid.UUID(value)) == value, where
        elif type_name == "Edm.String":
            assert isinstance(value, str), where
            if prop is not None and prop.get("MaxLength"):
                assert len(value) <= int(prop.get("MaxLength", "0")), where
        elif type_name in ("Edm.Int32", "Edm.Int64"):
            assert isinstance(value, int) and not isinstance(value, bool), where
            if type_name == "Edm.Int32":
                assert -(2**31) <= value < 2**31, where
        elif type_name == "Edm.Decimal":
            assert isinstance(value, int | float) and not isinstance(value, bool), where
            assert prop is not None and prop.get("Scale") == "variable", where
        elif type_name == "Edm.Boolean":
            assert isinstance(value, bool), where
        elif type_name == "Edm.Date":
            assert date.fromisoformat(value).isoformat() == value, where
        elif type_name == "Edm.DateTimeOffset":
            assert prop is not None
            match = re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.(\d+))?(?:Z|[+-]\d\d:\d\d)", value)
            assert match, where
            assert len(match.group(1) or "") <= int(prop.get("Precision", "0")), where
            datetime.fromisoformat(value)
        else:
            raise AssertionError(f"{where}: no check for {type_name}")

    def check_structured(self, value: Any, type_name: str, where: str) -> None:
        assert isinstance(value, dict), where
        props, navs = self.structured[type_name], self.navigations[type_name]
        for name, item in value.items():
            if name.startswith("@odata."):
                continue
            if name in navs:
                self.check(item, navs[name], None, f"{where}.{name}")
                continue
            assert name in props, f"{where}.{name} is served but not declared on {type_name}"
            self.check(item, str(props[name].get("Type")), props[name], f"{where}.{name}")


@pytest.mark.parametrize("version", VERSIONS)
def test_every_served_property_has_its_declared_type(sandbox: Sandbox, http: httpx.Client, version: str) -> None:
    declared = _Declarations(_metadata(sandbox, http, version))
    root = _root(sandbox, version)
    headers = _headers(sandbox)

    def served(url: str, **params: str) -> list[dict[str, Any]]:
        response = http.get(url, params=params or None, headers=headers)
        assert response.status_code == 200, (url, response.text)
        body = response.json()
        return list(body["value"]) if "value" in body else [body]

    def navs(set_name: str) -> str:
        return ",".join(declared.navigations[declared.sets[set_name]])

    checked = 0
    for company in served(f"{root}/companies"):
        declared.check_structured(company, declared.sets["companies"], "company")
        base = f"{root}/companies({company['id']})"
        for set_name in ("customerPaymentJournals", "customers", "salesInvoices"):
            expand = navs(set_name).replace("customerPayments", "").strip(",").replace(",,", ",")
            for entity in served(f"{base}/{set_name}", **({"$expand": expand} if expand else {})):
                declared.check_structured(entity, declared.sets[set_name], set_name)
                checked += 1
        for journal in served(f"{base}/customerPaymentJournals"):
            for payment in served(f"{base}/customerPaymentJournals({journal['id']})/customerPayments",
                                  **{"$expand": navs("customerPayments")}):
                declared.check_structured(payment, declared.sets["customerPayments"], "customerPayment")
                checked += 1
    assert checked > 300


def test_decimals_need_a_variable_scale(sandbox: Sandbox, http: httpx.Client) -> None:
    # Scale 0 (the CSDL default) would make an amount like 10598.48 invalid: the facet is what allows it.
    declared = _Declarations(_metadata(sandbox, http, "v2.0"))
    amount = declared.structured[declared.sets["customerPayments"]]["amount"]
    assert amount.get("Scale") == "variable"
    assert Decimal("10598.48").as_tuple().exponent == -2
