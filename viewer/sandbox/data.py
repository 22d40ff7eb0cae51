"""The sandbox's demo data: companies, customers, posted invoices, payment journals and their lines.

Deterministic for a seed (``random.Random(seed)``), international on purpose (accents, CJK, right-to-left,
quotes, long texts, blank values as Business Central sends them) and able to hold 20,000+ payments.

Records are plain dicts holding every field of every API version (the API projects per version) plus
private ``_``-prefixed keys. They are never changed in place: a write builds a new dict and swaps it into
the indices under ``lock``, so a reader that copied a list under the lock sees consistent records.
"""

from __future__ import annotations

import base64
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

ZERO_GUID = "00000000-0000-0000-0000-000000000000"
BLANK_DATE = "0001-01-01"
DEFAULT_TOTAL = 300  # payments in a default store, spread over every journal
LINE_STEP = 10000
# The activity mode favours payments someone read within this window (the app's open, watched payment).
RECENT_READ_SECONDS = 120.0
RECENT_READ_LIMIT = 32

Record = dict[str, Any]

# Fields the payment PATCH/POST may set, besides the journal (which only POST sets).
PAYMENT_WRITABLE = frozenset({
    "lineNumber", "customerId", "customerNumber", "contactId", "postingDate", "documentNumber",
    "externalDocumentNumber", "amount", "appliesToInvoiceId", "appliesToInvoiceNumber", "description",
    "comment", "dimensions",
})


class DataError(Exception):
    """A write Business Central would refuse; the API turns it into a BC error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def not_found(what: str, key: str) -> DataError:
    message = f"The {what} does not exist. Identification fields and values: Id='{key}'"
    return DataError(404, "Internal_RecordNotFound", message)


def iso_ms(moment: datetime) -> str:
    """UTC with milliseconds and ``Z``, as Business Central writes DateTime values."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def make_etag(row_version: int) -> str:
    """A weak, opaque ETag shaped like Business Central's (base64 of ``'<len>;<rowversion>;00;'``)."""
    digits = str(row_version)
    inner = f"'{len(digits)};{digits};00;'".encode()
    return 'W/"' + base64.b64encode(inner).decode("ascii") + '"'


def norm_guid(value: str) -> str:
    return str(uuid.UUID(value.strip().strip("{}")))


@dataclass(frozen=True)
class DemoIds:
    """Stable ids tests and demos can rely on (they change with the seed, not between resets)."""

    company_id: str  # the first company ("CRONUS USA, Inc."), the default one
    company_name: str
    journal_id: str  # its first journal ("GENERAL"); holds the bulk when payments=N is large
    journal_code: str
    payment_id: str  # the first line of that journal: a full, ordinary payment
    customer_id: str  # that payment's customer
    invoice_id: str  # the invoice that payment applies to
    blank_payment_id: str  # a line with blank customer, dates, GUIDs and texts
    long_text_payment_id: str  # a line with a 100-char description and a 250-char comment
    quote_customer_id: str  # "O'Brien Ltd." in the first company
    second_journal_id: str  # "BANK" in the first company
    small_company_id: str  # the company with only a few records
    empty_journal_id: str  # a journal of the small company with no lines


# ---- name pools ------------------------------------------------------------------------------------

# (displayName, type, city, country, currency, phone, email domain or "")
_Cust = tuple[str, str, str, str, str, str, str]

_LONG_NAME = "Northwind Traders International Holdings & Subsidiaries of the Americas, Europe and Asia-Pacific Ltd"
assert len(_LONG_NAME) == 100

_USA_CUSTOMERS: list[_Cust] = [
    ("Adatum Corporation", "Company", "Atlanta", "US", "", "+1 404 555 0101", "adatum.com"),
    ("Trey Research", "Company", "Chicago", "US", "", "+1 312 555 0130", "treyresearch.net"),
    ("School of Fine Art", "Company", "Miami", "US", "", "+1 305 555 0145", "fineart.edu"),
    ("Alpine Ski House", "Company", "Denver", "US", "", "+1 720 555 0166", "alpineskihouse.com"),
    ("O'Brien Ltd.", "Company", "Dublin", "IE", "EUR", "+353 1 555 0199", "obrien.ie"),
    ("Müller & Söhne GmbH", "Company", "München", "DE", "EUR", "+49 89 5550 1234", "mueller-soehne.de"),
    ("Société Générale Café", "Company", "Paris", "FR", "EUR", "+33 1 55 50 12 34", "sg-cafe.fr"),
    ("株式会社山田商事", "Company", "東京", "JP", "JPY", "+81 3 5550 1234", "yamada-shoji.co.jp"),
    ("شركة الأفق", "Company", "دبي", "AE", "AED", "+971 4 555 0123", "alofoq.ae"),
    ("חברת אופק", "Company", "תל אביב", "IL", "ILS", "+972 3 555 0123", "ofek.co.il"),
    ("Łódź Logistics Sp. z o.o.", "Company", "Łódź", "PL", "PLN", "+48 42 555 01 23", "lodz-logistics.pl"),
    ("Ångström & Åkesson AB", "Company", "Göteborg", "SE", "SEK", "+46 31 555 01 23", "angstrom.se"),
    ("Ελληνικές Εξαγωγές Α.Ε.", "Company", "Αθήνα", "GR", "EUR", "+30 21 0555 0123", "exagoges.gr"),
    ("Ковальчук и партнёры", "Company", "Київ", "UA", "", "+380 44 555 0123", ""),
    ("Nguyễn Trading Co.", "Company", "Hà Nội", "VN", "", "+84 24 5550 1234", "nguyentrading.vn"),
    ("Zoë's Bakery & Café", "Company", "Seattle", "US", "", "+1 206 555 0177", ""),
    ("José Ramírez", "Person", "San Antonio", "US", "", "+1 210 555 0188", "gmail.com"),
    ("Coho Winery", "Company", "Napa", "US", "", "+1 707 555 0102", "cohowinery.com"),
    ("Fabrikam, Inc.", "Company", "Redmond", "US", "", "+1 425 555 0103", "fabrikam.com"),
    (_LONG_NAME, "Company", "Toronto", "CA", "CAD", "+1 416 555 0104", "northwind.ca"),
    ("Relecloud", "Company", "Boston", "US", "", "", ""),
]

_DE_CUSTOMERS: list[_Cust] = [
    ("Müller & Söhne GmbH", "Company", "München", "DE", "", "+49 89 5550 1234", "mueller-soehne.de"),
    ("Bäckerei Groß KG", "Company", "Köln", "DE", "", "+49 221 555 0123", "baeckerei-gross.de"),
    ("Weiß Möbelhaus GmbH", "Company", "Düsseldorf", "DE", "", "+49 211 555 0123", "weiss-moebel.de"),
    ("Özdemir Handels GmbH", "Company", "Berlin", "DE", "", "+49 30 555 0123", "oezdemir-handel.de"),
    ("Straßenbau Nord AG", "Company", "Hamburg", "DE", "", "+49 40 555 0123", "strassenbau-nord.de"),
    ("Société Générale Café", "Company", "Straßburg", "FR", "", "+33 3 88 55 50 12", "sg-cafe.fr"),
    ("O'Brien Ltd.", "Company", "Dublin", "IE", "", "+353 1 555 0199", "obrien.ie"),
    ("Jürgen Weiß", "Person", "Stuttgart", "DE", "", "+49 711 555 0123", "web.de"),
    ("Zürcher Uhren AG", "Company", "Zürich", "CH", "CHF", "+41 44 555 01 23", "zuercher-uhren.ch"),
    ("Dvořák & Synové s.r.o.", "Company", "Praha", "CZ", "CZK", "+420 2 5550 1234", "dvorak.cz"),
    ("Fjällräven Händler AB", "Company", "Malmö", "SE", "SEK", "+46 40 555 01 23", ""),
    ("شركة الأفق", "Company", "الرياض", "SA", "SAR", "+966 11 555 0123", "alofoq.sa"),
]

_JP_CUSTOMERS: list[_Cust] = [
    ("株式会社山田商事", "Company", "東京", "JP", "", "+81 3 5550 1234", "yamada-shoji.co.jp"),
    ("有限会社鈴木電機", "Company", "大阪", "JP", "", "+81 6 5550 1234", "suzuki-denki.jp"),
    ("佐藤産業株式会社", "Company", "名古屋", "JP", "", "+81 52 555 0123", "sato-sangyo.jp"),
    ("东方贸易有限公司", "Company", "上海", "CN", "CNY", "+86 21 5550 1234", "dongfang.cn"),
    ("한국무역 주식회사", "Company", "서울", "KR", "KRW", "+82 2 555 0123", "hankook-trade.kr"),
    ("田中 太郎", "Person", "京都", "JP", "", "+81 75 555 0123", ""),
    ("Tanaka Foods K.K.", "Company", "横浜", "JP", "", "+81 45 555 0123", "tanaka-foods.jp"),
    ("O'Brien Ltd.", "Company", "Dublin", "IE", "EUR", "+353 1 555 0199", "obrien.ie"),
    ("חברת אופק", "Company", "חיפה", "IL", "ILS", "+972 4 555 0123", "ofek.co.il"),
]

_QC_CUSTOMERS: list[_Cust] = [
    ("Boulangerie Lévesque", "Company", "Québec", "CA", "", "+1 418 555 0123", "levesque.ca"),
    ("Hélène Côté", "Person", "Montréal", "CA", "", "", ""),
]


@dataclass(frozen=True)
class _CompanySpec:
    name: str
    display: str
    country: str
    lcy: str
    customers: list[_Cust]
    journals: list[tuple[str, str, str, float]]  # code, displayName, balancing account no. ("" = none), weight
    invoice_base: int
    doc_prefix: str
    language: str


_COMPANIES = [
    _CompanySpec(
        "CRONUS USA, Inc.", "CRONUS USA, Inc.", "US", "USD", _USA_CUSTOMERS,
        [("GENERAL", "General payments", "", 0.30), ("BANK", "Bank receipts — Wells Fargo", "2910", 0.25),
         ("CASH", "Cash receipts", "2930", 0.08), ("EUR-BANK", "Receipts in EUR (Commerzbank)", "2920", 0.07)],
        103001, "G", "en",
    ),
    _CompanySpec(
        "CRONUS Deutschland GmbH", "CRONUS Deutschland GmbH", "DE", "EUR", _DE_CUSTOMERS,
        [("ZAHLUNG", "Zahlungseingänge", "", 0.12), ("BANK", "Bank – Sparkasse Köln", "1800", 0.08),
         ("KASSE", "Kasse", "1600", 0.03)],
        104001, "ZE", "de",
    ),
    _CompanySpec(
        "CRONUS 日本", "CRONUS 日本 株式会社", "JP", "JPY", _JP_CUSTOMERS,
        [("GENERAL", "入金仕訳帳", "", 0.05), ("BANK", "銀行入金 – みずほ銀行", "1120", 0.02)],
        105001, "NY", "ja",
    ),
    _CompanySpec(
        "CRONUS Québec Ltée", "CRONUS Québec Ltée", "CA", "CAD", _QC_CUSTOMERS,
        [("GENERAL", "Encaissements", "", 0.0), ("EMPTY", "Journal vide", "", 0.0)],
        106001, "QC", "fr",
    ),
]

_DESCRIPTIONS = {
    "en": ["Payment for invoice {inv}", "Payment {cust}", "Partial payment, invoice {inv}", "Wire transfer {inv}",
           "Check no. {n}", "Down payment", "Refund correction {inv}"],
    "de": ["Zahlung Rechnung {inv}", "Zahlungseingang {cust}", "Teilzahlung RE {inv}", "Überweisung {inv}",
           "Gutschrift Korrektur", "Lastschrift {n}"],
    "ja": ["請求書 {inv} の入金", "{cust} 入金", "一部入金 {inv}", "振込 {inv}", "前受金"],
    "fr": ["Paiement facture {inv}", "Virement {cust}", "Acompte reçu"],
}

_COMMENTS = ["", "", "", "", "Received via bank statement import", "Customer called: pays the rest next week",
             "Skonto 2 % abgezogen", "振込手数料は当社負担", "Matched automatically", "Check deposited at branch 012",
             "Bitte mit Buchhaltung abstimmen — Beleg fehlt", "Référence client : «FAC-2025/017»"]

_DIMENSIONS = [
    [],
    [{"code": "DEPARTMENT", "displayName": "Department", "valueCode": "SALES", "valueDisplayName": "Sales"}],
    [{"code": "DEPARTMENT", "displayName": "Department", "valueCode": "ADM", "valueDisplayName": "Administration"},
     {"code": "AREA", "displayName": "Area", "valueCode": "30", "valueDisplayName": "Europe North (Non EU)"}],
    [{"code": "CUSTOMERGROUP", "displayName": "Customer Group", "valueCode": "LARGE",
      "valueDisplayName": "Large Business"}],
]

_SYSTEM_USER = "00000000-0000-0000-0000-000000000001"
_BASE_TIME = datetime(2025, 6, 30, 16, 0, 0, tzinfo=UTC)


# ---- payment checks' seeded cases (DataStore._seed_check_cases) ------------------------------------------------------

# key, displayName, blocked, currency ("" = the company's)
_CHECK_CUSTOMERS: list[tuple[str, str, str, str]] = [
    ("contoso", "Contoso Pharmaceuticals", "_x0020_", ""),
    ("tailspin", "Tailspin Toys", "_x0020_", ""),
    ("litware", "Litware, Inc.", "All", ""),
    ("wideworld", "Wide World Importers", "Invoice", ""),
    ("vanarsdel", "Van Arsdel Ltd.", "_x0020_", "EUR"),
]
# key, customer key, status (as Business Central writes it), total incl. tax, remaining, posting date
_CHECK_INVOICES: list[tuple[str, str, str, str, str, str]] = [
    ("settles", "contoso", "Open", "10598.48", "10598.48", "2025-05-05"),
    ("partial", "contoso", "Open", "4800.00", "4800.00", "2025-05-05"),
    ("overpays", "contoso", "Open", "2488.00", "2488.00", "2025-05-05"),
    ("paid", "contoso", "Paid", "1250.00", "0", "2025-05-05"),
    ("canceled", "contoso", "Canceled", "640.00", "0", "2025-05-05"),
    ("draft", "contoso", "Draft", "980.00", "980.00", "2025-05-05"),
    ("inReview", "contoso", "In_x0020_Review", "1120.00", "1120.00", "2025-05-05"),
    ("tailspin", "tailspin", "Open", "2300.00", "2300.00", "2025-05-05"),
    ("litware", "litware", "Open", "1890.00", "1890.00", "2025-05-05"),
    ("wideworld", "wideworld", "Open", "760.50", "760.50", "2025-05-05"),
    ("late", "contoso", "Open", "1475.25", "1475.25", "2025-06-20"),
    ("noDocument", "contoso", "Open", "820.00", "820.00", "2025-05-05"),
    ("positive", "contoso", "Open", "300.00", "300.00", "2025-05-05"),
    ("twiceOver", "contoso", "Open", "9329.35", "9329.35", "2025-05-05"),
    ("twiceUnder", "contoso", "Open", "4000.00", "4000.00", "2025-05-05"),
    ("sameExternalA", "contoso", "Open", "615.00", "615.00", "2025-05-05"),
    ("sameExternalB", "contoso", "Open", "385.00", "385.00", "2025-05-05"),
    ("euro", "vanarsdel", "Open", "3210.75", "3210.75", "2025-05-05"),
    ("euroPartial", "vanarsdel", "Open", "5000.00", "5000.00", "2025-05-05"),
]
# case, customer key, invoice key ("" = not applied), amount (negative = a payment), posting date ("future" =
# 45 days after today), other field values
_CHECK_LINES: list[tuple[str, str, str, str, str, dict[str, Any]]] = [
    ("settles exactly", "contoso", "settles", "-10598.48", "2025-06-02", {}),
    ("partial payment", "contoso", "partial", "-3600.00", "2025-06-02", {}),
    ("overpayment", "contoso", "overpays", "-2500.00", "2025-06-02", {}),
    ("invoice already paid", "contoso", "paid", "-1250.00", "2025-06-02", {}),
    ("invoice canceled", "contoso", "canceled", "-640.00", "2025-06-02", {}),
    ("invoice still a draft", "contoso", "draft", "-980.00", "2025-06-02", {}),
    ("invoice in review", "contoso", "inReview", "-1120.00", "2025-06-02", {}),
    ("invoice of another customer", "contoso", "tailspin", "-2300.00", "2025-06-02", {}),
    ("customer blocked (All)", "litware", "litware", "-1890.00", "2025-06-02", {}),
    ("customer blocked for invoicing", "wideworld", "wideworld", "-760.50", "2025-06-02", {}),
    ("posted before its invoice", "contoso", "late", "-1475.25", "2025-06-12", {}),
    ("posting date far ahead", "contoso", "", "-500.00", "future", {}),
    ("no document number", "contoso", "noDocument", "-820.00", "2025-06-02", {"documentNumber": ""}),
    ("positive amount", "contoso", "positive", "300.00", "2025-06-02", {}),
    ("two lines overpay one invoice (1)", "contoso", "twiceOver", "-7500.00", "2025-06-02", {}),
    ("two lines overpay one invoice (2)", "contoso", "twiceOver", "-7500.00", "2025-06-03", {}),
    ("two lines pay part of one invoice (1)", "contoso", "twiceUnder", "-1000.00", "2025-06-02", {}),
    ("two lines pay part of one invoice (2)", "contoso", "twiceUnder", "-1500.00", "2025-06-09", {}),
    ("same external document no. (1)", "contoso", "sameExternalA", "-615.00", "2025-06-02",
     {"externalDocumentNumber": "REM-2025-0042"}),
    ("same external document no. (2)", "contoso", "sameExternalB", "-385.00", "2025-06-02",
     {"externalDocumentNumber": "REM-2025-0042"}),
    ("settles in EUR", "vanarsdel", "euro", "-3210.75", "2025-06-02", {}),
    ("partial in EUR", "vanarsdel", "euroPartial", "-4250.00", "2025-06-02", {}),
]


class DataStore:
    """One environment's data. Every public method is thread-safe (``lock`` is re-entrant)."""

    def __init__(self, *, seed: int, payments: int | None = None) -> None:
        self.seed = seed
        self.payments = payments
        self.lock = threading.RLock()
        self._generate()

    # ---- lifecycle -----------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the seeded state (same ids, values and ETags as after construction)."""
        with self.lock:
            self._generate()

    def _generate(self) -> None:
        rng = random.Random(self.seed)
        self._rng = rng
        self._activity_rng = random.Random(self.seed * 7919 + 17)
        # payment id -> (first read, last read) in time.monotonic() seconds, newest last; see note_read.
        self._recent_reads: dict[str, tuple[float, float]] = {}
        self._activity_edits: dict[str, float] = {}  # payment id -> when the activity mode last edited it
        self._row_version = 1_000_000_000_000_000_000 + rng.randrange(10**17)
        self._companies: list[Record] = []
        self._company_by_id: dict[str, Record] = {}
        self._journals: dict[str, list[Record]] = {}
        self._journal_by_id: dict[str, Record] = {}
        self._lines: dict[str, list[Record]] = {}
        self._payment_by_id: dict[str, Record] = {}
        self._customers: dict[str, list[Record]] = {}
        self._customer_by_id: dict[str, Record] = {}
        self._invoices: dict[str, list[Record]] = {}
        self._invoice_by_id: dict[str, Record] = {}

        counts = self._journal_counts()
        for spec, company_counts in zip(_COMPANIES, counts, strict=True):
            self._generate_company(spec, company_counts)
        self.demo = self._demo_ids()
        self.check_cases = self._seed_check_cases()

    def _journal_counts(self) -> list[list[int]]:
        """Payments per journal: a default spread, with any large surplus in the first journal."""
        wanted = DEFAULT_TOTAL if self.payments is None else max(0, self.payments)
        spread = min(wanted, DEFAULT_TOTAL)
        weights = [[j[3] for j in spec.journals] for spec in _COMPANIES]
        total_weight = sum(sum(w) for w in weights)
        counts = [[int(spread * w / total_weight) for w in ws] for ws in weights]
        # The small company has a couple of lines and one empty journal, whatever the size.
        counts[-1][0] = 2 if wanted >= 10 else 0
        counts[0][0] = max(0, counts[0][0] + wanted - sum(map(sum, counts)))
        return counts

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _bump(self) -> tuple[int, str]:
        self._row_version += 1
        return self._row_version, make_etag(self._row_version)

    def _stamp(self, record: Record, modified: str | None = None) -> Record:
        rv, etag = self._bump()
        record["_rv"] = rv
        record["_etag"] = etag
        if modified is not None:
            record["lastModifiedDateTime"] = modified
        return record

    def _past(self, max_days: int) -> str:
        offset = timedelta(seconds=self._rng.randrange(max_days * 86400), milliseconds=self._rng.randrange(1000))
        return iso_ms(_BASE_TIME - offset)

    def _generate_company(self, spec: _CompanySpec, journal_counts: list[int]) -> None:
        rng = self._rng
        company_id = self._new_id()
        created = self._past(900)
        company: Record = {
            "id": company_id,
            "systemVersion": "26.3.36158.37985",
            "timestamp": rng.randrange(10_000, 90_000),
            "name": spec.name,
            "displayName": spec.display,
            "businessProfileId": "",
            "systemCreatedAt": created,
            "systemCreatedBy": _SYSTEM_USER,
            "systemModifiedAt": self._past(200),
            "systemModifiedBy": ZERO_GUID,
        }
        self._stamp(company)
        self._companies.append(company)
        self._company_by_id[company_id] = company

        customers = [self._make_customer(company_id, spec, i, c) for i, c in enumerate(spec.customers)]
        self._customers[company_id] = customers
        for customer in customers:
            self._customer_by_id[customer["id"]] = customer

        invoices: list[Record] = []
        number = spec.invoice_base
        for customer in customers:
            for _ in range(rng.randint(2, 5)):
                invoices.append(self._make_invoice(company_id, spec, customer, str(number)))
                number += 1
        self._invoices[company_id] = invoices
        for invoice in invoices:
            self._invoice_by_id[invoice["id"]] = invoice
        self._refresh_balances(company_id)

        journals: list[Record] = []
        for index, ((code, display, bal_no, _w), count) in enumerate(zip(spec.journals, journal_counts, strict=True)):
            journal: Record = {
                "id": self._new_id(),
                "code": code,
                "displayName": display,
                "lastModifiedDateTime": self._past(300),
                "balancingAccountId": self._new_id() if bal_no else ZERO_GUID,
                "balancingAccountNumber": bal_no,
                "_company": company_id,
            }
            self._stamp(journal)
            journals.append(journal)
            self._journal_by_id[journal["id"]] = journal
            doc_base = (index + 2) * 1000 + 1
            self._lines[journal["id"]] = self._make_lines(spec, journal, customers, invoices, count, doc_base)
        journals.sort(key=lambda j: j["code"])
        self._journals[company_id] = journals

    def _make_customer(self, company_id: str, spec: _CompanySpec, index: int, c: _Cust) -> Record:
        name, kind, city, country, currency, phone, domain = c
        rng = self._rng
        street = f"{rng.randint(1, 250)} {'Main Street' if spec.language == 'en' else 'Hauptstraße'}"
        postal = f"{rng.randint(10000, 99999)}"
        local = "".join(ch for ch in name.lower() if ch.isascii() and ch.isalnum())[:12] or "info"
        customer: Record = {
            "id": self._new_id(),
            "number": str(10000 * (index + 1)),
            "displayName": name,
            "type": kind,
            "addressLine1": street,
            "addressLine2": "" if rng.random() < 0.7 else f"Suite {rng.randint(100, 999)}",
            "city": city,
            "state": "",
            "country": country,
            "postalCode": postal,
            "phoneNumber": phone,
            "email": f"{'accounts' if kind == 'Company' else local}@{domain}" if domain else "",
            "website": f"www.{domain}" if domain and kind == "Company" else "",
            "salespersonCode": rng.choice(["", "JR", "PS", "BC"]),
            "balanceDue": 0,
            "creditLimit": rng.choice([0, 0, 10000, 25000, 100000]),
            "taxLiable": country == spec.country,
            "taxAreaId": ZERO_GUID,
            "taxAreaDisplayName": "",
            "taxRegistrationNumber": "" if rng.random() < 0.5 else f"{country}{rng.randint(10**8, 10**9 - 1)}",
            "currencyId": ZERO_GUID if not currency else str(uuid.uuid5(uuid.NAMESPACE_OID, currency)),
            "currencyCode": currency,
            "paymentTermsId": str(uuid.uuid5(uuid.NAMESPACE_OID, "30 DAYS")),
            "shipmentMethodId": ZERO_GUID,
            "paymentMethodId": ZERO_GUID,
            # Business Central writes the blank option of an enum as "_x0020_".
            # v1.0/beta shape the address as one complex value.
            "address": {"street": street, "city": city, "state": "", "countryLetterCode": country,
                        "postalCode": postal},
            "blocked": "_x0020_" if rng.random() < 0.9 else rng.choice(["Ship", "Invoice", "All"]),
            "lastModifiedDateTime": self._past(400),
            "_company": company_id,
        }
        return self._stamp(customer)

    def _make_invoice(self, company_id: str, spec: _CompanySpec, customer: Record, number: str) -> Record:
        rng = self._rng
        invoice_date = date(2024, 10, 1) + timedelta(days=rng.randrange(270))
        if customer["displayName"] == "Adatum Corporation" and number.endswith("2"):
            net = 1_234_567.89  # a large one for the formatting
        elif spec.lcy == "JPY":
            net = float(rng.randrange(5_000, 3_000_000))
        else:
            net = round(rng.uniform(50, 25_000), 2)
        tax_rate = {"US": 0.0625, "DE": 0.19, "JP": 0.10, "CA": 0.14975}[spec.country]
        tax = round(net * tax_rate, 0 if spec.lcy == "JPY" else 2)
        total = round(net + tax, 2)
        status = "Paid" if rng.random() < 0.35 else "Open"
        remaining = 0 if status == "Paid" else (total if rng.random() < 0.8 else round(total * 0.4, 2))
        invoice: Record = {
            "id": self._new_id(),
            "number": number,
            "externalDocumentNumber": "" if rng.random() < 0.5 else f"PO-{rng.randint(1000, 99999)}",
            "invoiceDate": invoice_date.isoformat(),
            "postingDate": invoice_date.isoformat(),
            "dueDate": (invoice_date + timedelta(days=30)).isoformat(),
            "customerPurchaseOrderReference": "",
            "customerId": customer["id"],
            "customerNumber": customer["number"],
            "customerName": customer["displayName"],
            "billToName": customer["displayName"],
            "billToCustomerId": customer["id"],
            "billToCustomerNumber": customer["number"],
            "currencyId": customer["currencyId"],
            "currencyCode": customer["currencyCode"] or spec.lcy,
            "pricesIncludeTax": False,
            "discountAmount": 0,
            "totalAmountExcludingTax": _num(net),
            "totalTaxAmount": _num(tax),
            "totalAmountIncludingTax": _num(total),
            "remainingAmount": _num(remaining),
            "status": status,
            "lastModifiedDateTime": self._past(200),
            "phoneNumber": customer["phoneNumber"],
            "email": customer["email"],
            # The rest of BCOAS1.0's v1.0 salesInvoice, derived without drawing from ``rng`` so every
            # other seeded value stays what it was.
            "contactId": "",
            "shipToName": customer["displayName"],
            "shipToContact": "",
            "sellingPostalAddress": dict(customer["address"]),
            "billingPostalAddress": dict(customer["address"]),
            "shippingPostalAddress": dict(customer["address"]),
            "orderId": ZERO_GUID,
            "orderNumber": "",
            "paymentTermsId": customer["paymentTermsId"],
            "shipmentMethodId": customer["shipmentMethodId"],
            "salesperson": customer["salespersonCode"],
            "discountAppliedBeforeTax": False,
            "_company": company_id,
        }
        return self._stamp(invoice)

    def _refresh_balances(self, company_id: str) -> None:
        due: dict[str, float] = {}
        for invoice in self._invoices[company_id]:
            due[invoice["customerId"]] = due.get(invoice["customerId"], 0.0) + float(invoice["remainingAmount"])
        customers = self._customers[company_id]
        for i, customer in enumerate(customers):
            balance = _num(round(due.get(customer["id"], 0.0), 2))
            if customer["balanceDue"] != balance:
                updated = {**customer, "balanceDue": balance}
                customers[i] = updated
                self._customer_by_id[updated["id"]] = updated

    def _make_lines(
        self, spec: _CompanySpec, journal: Record, customers: list[Record], invoices: list[Record],
        count: int, doc_base: int,
    ) -> list[Record]:
        rng = self._rng
        texts = _DESCRIPTIONS[spec.language]
        plain_texts = [t for t in texts if "{inv}" not in t]
        open_by_customer: dict[str, list[Record]] = {}
        for candidate in invoices:
            if candidate["status"] == "Open":
                open_by_customer.setdefault(candidate["customerId"], []).append(candidate)
        lines: list[Record] = []
        prefix = spec.doc_prefix
        width = max(5, len(str(doc_base + count)))
        with_open = [c for c in customers if c["id"] in open_by_customer] or customers
        applied: set[str] = set()  # invoices a line of this journal already pays
        for i in range(count):
            # The first line of a journal is always a complete one (customer, invoice): the demo opens it.
            first = i == 0
            pool = with_open if first else customers
            customer = pool[rng.randrange(len(pool))]
            candidates = open_by_customer.get(customer["id"])
            invoice: Record | None = None
            if candidates and (first or rng.random() < 0.85):
                pick = candidates[rng.randrange(len(candidates))]
                # One line per invoice in a journal: once the customer's open invoices all have one, the line is
                # an unapplied payment. Two lines paying one invoice are a payment checks' seeded case instead.
                invoice = next((c for c in [pick, *candidates] if c["id"] not in applied), None)
                if invoice is not None:
                    applied.add(invoice["id"])
            if invoice is not None:
                amount = float(invoice["remainingAmount"])
                if rng.random() < 0.2:
                    amount = round(amount / 2, 0 if spec.lcy == "JPY" else 2)
            else:
                amount = float(rng.randrange(100, 500_000)) if spec.lcy == "JPY" else round(rng.uniform(10, 9_999), 2)
            # Business Central's sign (viewer/checks.py): a payment received is negative. A few unapplied lines
            # are positive corrections, which posting refuses and the checks flag.
            amount = -amount
            if rng.random() < 0.12 and not first and invoice is None:
                amount = -amount
            patterns = texts if invoice else plain_texts
            text = patterns[rng.randrange(len(patterns))].format(
                inv=invoice["number"] if invoice else "", cust=customer["displayName"], n=rng.randint(1000, 9999)
            ).strip()
            posting = date(2025, 1, 2) + timedelta(days=rng.randrange(180))
            if invoice is not None and posting.isoformat() < invoice["postingDate"]:
                # A payment comes after its invoice: within a month of it.
                posting = date.fromisoformat(invoice["postingDate"]) + timedelta(days=1 + posting.toordinal() % 30)
            line: Record = {
                "id": self._new_id(),
                "journalId": journal["id"],
                "journalDisplayName": journal["code"],
                "lineNumber": (i + 1) * LINE_STEP,
                "customerId": customer["id"],
                "customerNumber": customer["number"],
                "contactId": "" if rng.random() < 0.9 else "AAMkAGI2TG93AAA=" + str(rng.randint(10**5, 10**6)),
                "postingDate": posting.isoformat(),
                "documentNumber": f"{prefix}{doc_base + i:0{width}d}",
                "externalDocumentNumber": "" if rng.random() < 0.6 else f"TRX-2025-{rng.randint(1, 999999):06d}",
                "amount": _num(amount),
                "appliesToInvoiceId": invoice["id"] if invoice else ZERO_GUID,
                "appliesToInvoiceNumber": invoice["number"] if invoice else "",
                "description": text[:100],
                "comment": _COMMENTS[rng.randrange(len(_COMMENTS))],
                "dimensions": _DIMENSIONS[rng.randrange(len(_DIMENSIONS))],
                "lastModifiedDateTime": self._past(120),
                "_company": journal["_company"],
            }
            lines.append(self._stamp(line))
        self._decorate_special_lines(spec, lines)
        for line in lines:
            self._payment_by_id[line["id"]] = line
        return lines

    def _decorate_special_lines(self, spec: _CompanySpec, lines: list[Record]) -> None:
        """Give a few lines the edge cases a viewer must show: blanks, long texts, large amounts."""
        n = len(lines)
        if n >= 3:
            lines[1].update({
                "customerId": ZERO_GUID, "customerNumber": "", "postingDate": BLANK_DATE,
                "appliesToInvoiceId": ZERO_GUID, "appliesToInvoiceNumber": "", "externalDocumentNumber": "",
                "description": "", "comment": "", "contactId": "", "dimensions": [], "amount": 0,
            })
            long_description = ("Teilzahlung für Rechnungen 103017, 103018 und 103019 — Rest folgt nach Klärung "
                                "der Gutschrift (2 %).")
            long_comment = ("Kunde hat telefonisch bestätigt, dass der Restbetrag nach Prüfung der Lieferung "
                            "überwiesen wird. Ansprechpartnerin: Frau Dr. Ölmann-Çelik (Buchhaltung), "
                            "Durchwahl -2317. Bitte vor dem Buchen mit dem Vertrieb abstimmen; Beleg im DMS: "
                            "„Zahlungsavis“ ✓.")
            assert len(long_description) == 100 and len(long_comment) == 250
            lines[2].update({
                "description": long_description,
                "comment": long_comment,
                "externalDocumentNumber": "SEPA-CT-2025-06-30-000000001234567"[:35],
            })
        if n >= 6:
            lines[4]["amount"] = -98_765_432.1 if spec.lcy != "JPY" else -1_234_567_890
            lines[5]["amount"] = 12_345.67 if spec.lcy != "JPY" else 54_321  # positive: a correction (refused)

    # ---- payment checks: seeded cases (viewer/checks.py; README "Payment checks") ----------------------------------

    def _seed_check_cases(self) -> dict[str, str]:
        """Rewrite a run of the first company's GENERAL journal so every payment check shows each of its severities.

        Lines 7 to 28 (the first six are the demo's ordinary, blank, long-text and large-amount lines) get customers
        and invoices of their own, so no random line interferes. No random number is drawn (ids are uuid5 of the
        seed), so everything else is the same as without them. Returns case name → payment id (tests, README).
        Skipped when the journal is too short (``payments=N`` small).
        """
        company = self._companies[0]
        cid = company["id"]
        general = next(j for j in self._journals[cid] if j["code"] == "GENERAL")
        lines = self._lines[general["id"]]
        first = 6
        if len(lines) < first + len(_CHECK_LINES):
            return {}
        customers = self._customers[cid]
        invoices = self._invoices[cid]

        def seeded_id(name: str) -> str:
            return str(uuid.uuid5(uuid.NAMESPACE_URL, f"bcpv-sandbox/{self.seed}/checks/{name}"))

        by_key: dict[str, Record] = {}
        # Numbers 90010, 90020…: no ordinary customer's number is part of them (the navigator searches with contains).
        for index, (key, name, blocked, currency) in enumerate(_CHECK_CUSTOMERS):
            customer = {
                **customers[0], "id": seeded_id(key), "number": f"900{index + 1}0",
                "displayName": name, "blocked": blocked, "currencyCode": currency, "balanceDue": 0,
                "currencyId": str(uuid.uuid5(uuid.NAMESPACE_OID, currency)) if currency else ZERO_GUID,
                "email": "", "website": "", "phoneNumber": f"+1 425 555 01{index:02d}",
            }
            customers.append(self._stamp(customer))
            self._customer_by_id[customer["id"]] = customer
            by_key[key] = customer

        number = max(int(i["number"]) for i in invoices) + 1
        invoice_of: dict[str, Record] = {}
        for key, owner, status, total, remaining, posted in _CHECK_INVOICES:
            customer = by_key[owner]
            gross, left = Decimal(total), Decimal(remaining)
            net = (gross / Decimal("1.0625")).quantize(Decimal("0.01"))
            invoice = {
                **invoices[0], "id": seeded_id(f"invoice/{key}"), "number": str(number), "externalDocumentNumber": "",
                "invoiceDate": posted, "postingDate": posted,
                "dueDate": (date.fromisoformat(posted) + timedelta(days=30)).isoformat(),
                "customerId": customer["id"], "customerNumber": customer["number"],
                "customerName": customer["displayName"], "billToName": customer["displayName"],
                "billToCustomerId": customer["id"], "billToCustomerNumber": customer["number"],
                "currencyId": customer["currencyId"], "currencyCode": customer["currencyCode"] or "USD",
                "totalAmountExcludingTax": _num(float(net)), "totalTaxAmount": _num(float(gross - net)),
                "totalAmountIncludingTax": _num(float(gross)), "remainingAmount": _num(float(left)), "status": status,
                "phoneNumber": customer["phoneNumber"], "email": "",
            }
            number += 1
            invoices.append(self._stamp(invoice))
            self._invoice_by_id[invoice["id"]] = invoice
            invoice_of[key] = invoice
        self._refresh_balances(cid)

        future = (datetime.now(UTC).date() + timedelta(days=45)).isoformat()
        cases: dict[str, str] = {}
        for line, (case, owner, invoice_key, amount, posting, extra) in zip(lines[first:], _CHECK_LINES, strict=False):
            customer = by_key[owner]
            applied = invoice_of.get(invoice_key)
            line.update({
                "customerId": customer["id"], "customerNumber": customer["number"],
                "appliesToInvoiceId": applied["id"] if applied else ZERO_GUID,
                "appliesToInvoiceNumber": applied["number"] if applied else "",
                "amount": _num(float(Decimal(amount))),
                "postingDate": future if posting == "future" else posting,
                "externalDocumentNumber": "",
                "description": f"Payment for invoice {applied['number']}" if applied
                else f"Payment {customer['displayName']}",
                "comment": f"Checks demo: {case}",
                **extra,
            })
            cases[case] = line["id"]
        return cases

    # ---- reads ---------------------------------------------------------------------------------------

    def companies(self) -> list[Record]:
        with self.lock:
            return list(self._companies)

    def company(self, company_id: str) -> Record | None:
        with self.lock:
            return self._company_by_id.get(company_id)

    def company_by_name(self, name: str) -> Record | None:
        with self.lock:
            return next((c for c in self._companies if c["name"] == name), None)

    def journals(self, company_id: str) -> list[Record]:
        with self.lock:
            return list(self._journals.get(company_id, ()))

    def journal(self, company_id: str, journal_id: str) -> Record | None:
        with self.lock:
            journal = self._journal_by_id.get(journal_id)
            return journal if journal is not None and journal["_company"] == company_id else None

    def journal_payments(self, journal_id: str) -> list[Record]:
        """The lines of one journal in key order (line number)."""
        with self.lock:
            return list(self._lines.get(journal_id, ()))

    def company_payments(self, company_id: str) -> list[Record]:
        """Every line of every journal of a company, journal by journal (the table's key order)."""
        with self.lock:
            out: list[Record] = []
            for journal in self._journals.get(company_id, ()):
                out.extend(self._lines[journal["id"]])
            return out

    def payment(self, payment_id: str, company_id: str | None = None) -> Record | None:
        with self.lock:
            record = self._payment_by_id.get(payment_id)
            if record is None or (company_id is not None and record["_company"] != company_id):
                return None
            return record

    def payment_count(self) -> int:
        with self.lock:
            return len(self._payment_by_id)

    def customers(self, company_id: str) -> list[Record]:
        with self.lock:
            return list(self._customers.get(company_id, ()))

    def customer(self, customer_id: str, company_id: str | None = None) -> Record | None:
        with self.lock:
            record = self._customer_by_id.get(customer_id)
            if record is None or (company_id is not None and record["_company"] != company_id):
                return None
            return record

    def customer_by_name(self, company_id: str, name: str) -> Record | None:
        with self.lock:
            return next((c for c in self._customers.get(company_id, ()) if c["displayName"] == name), None)

    def invoices(self, company_id: str) -> list[Record]:
        with self.lock:
            return list(self._invoices.get(company_id, ()))

    def invoice(self, invoice_id: str, company_id: str | None = None) -> Record | None:
        with self.lock:
            record = self._invoice_by_id.get(invoice_id)
            if record is None or (company_id is not None and record["_company"] != company_id):
                return None
            return record

    def payment_path(self, payment_id: str) -> str:
        """``companies(c)/customerPaymentJournals(j)/customerPayments(p)`` for a payment, under an API root."""
        with self.lock:
            p = self._payment_by_id[payment_id]
            return f"companies({p['_company']})/customerPaymentJournals({p['journalId']})/customerPayments({p['id']})"

    def _demo_ids(self) -> DemoIds:
        first = self._companies[0]
        journals = self._journals[first["id"]]
        by_code = {j["code"]: j for j in journals}
        general = by_code["GENERAL"]
        lines = self._lines[general["id"]]
        blank: Record = {"id": ZERO_GUID, "customerId": ZERO_GUID, "appliesToInvoiceId": ZERO_GUID}
        payment = lines[0] if lines else blank
        small = self._companies[-1]
        small_journals = {j["code"]: j for j in self._journals[small["id"]]}
        quote = next(c for c in self._customers[first["id"]] if c["displayName"] == "O'Brien Ltd.")
        return DemoIds(
            company_id=first["id"],
            company_name=first["name"],
            journal_id=general["id"],
            journal_code=general["code"],
            payment_id=payment["id"],
            customer_id=payment["customerId"],
            invoice_id=payment["appliesToInvoiceId"],
            blank_payment_id=lines[1]["id"] if len(lines) > 1 else payment["id"],
            long_text_payment_id=lines[2]["id"] if len(lines) > 2 else payment["id"],
            quote_customer_id=quote["id"],
            second_journal_id=by_code["BANK"]["id"],
            small_company_id=small["id"],
            empty_journal_id=small_journals["EMPTY"]["id"],
        )

    # ---- writes --------------------------------------------------------------------------------------

    def _check_etag(self, record: Record, if_match: str | None) -> None:
        if if_match is None:
            return
        tags = [t.strip() for t in if_match.split(",")]
        if "*" not in tags and record["_etag"] not in tags:
            raise DataError(409, "Request_EntityChanged", "Another user has already changed the record.")

    def _replace_payment(self, old: Record, new: Record) -> None:
        lines = self._lines[old["journalId"]]
        index = next(i for i, r in enumerate(lines) if r is old)
        lines[index] = new
        if new["lineNumber"] != old["lineNumber"]:
            lines.sort(key=lambda r: r["lineNumber"])
        self._payment_by_id[new["id"]] = new

    def _resolve_payment_values(self, company_id: str, current: Record, changes: Mapping[str, Any]) -> Record:
        """Apply ``changes`` with Business Central's cross-field rules (customer and invoice lookups)."""
        values = dict(current)
        for key, value in changes.items():
            if key not in PAYMENT_WRITABLE:
                raise DataError(400, "BadRequest_InvalidOperation", f"The property '{key}' cannot be changed.")
            values[key] = value
        if "customerId" in changes:
            cid = changes["customerId"]
            if cid == ZERO_GUID:
                values["customerNumber"] = changes.get("customerNumber", "")
            else:
                customer = self.customer(cid, company_id)
                if customer is None:
                    raise DataError(400, "Application_DialogException",
                                    'The "customerId" does not match to a Customer.')
                if "customerNumber" in changes and changes["customerNumber"] != customer["number"]:
                    raise DataError(400, "Application_DialogException",
                                    "The customer values do not match to a specific Customer.")
                values["customerNumber"] = customer["number"]
        elif "customerNumber" in changes:
            number = changes["customerNumber"]
            match = next((c for c in self._customers.get(company_id, ()) if c["number"] == number), None)
            if number and match is None:
                raise DataError(400, "Internal_InvalidTableRelation",
                                f"The field Account No. of table Gen. Journal Line contains a value ({number}) "
                                "that cannot be found in the related table (Customer).")
            values["customerId"] = match["id"] if match else ZERO_GUID
        if "appliesToInvoiceId" in changes:
            iid = changes["appliesToInvoiceId"]
            if iid == ZERO_GUID:
                values["appliesToInvoiceNumber"] = changes.get("appliesToInvoiceNumber", "")
            else:
                invoice = self.invoice(iid, company_id)
                if invoice is None:
                    raise DataError(400, "Application_DialogException",
                                    'The "appliesToInvoiceId" does not match to a Sales Invoice.')
                values["appliesToInvoiceNumber"] = invoice["number"]
                if not values["customerNumber"]:
                    values["customerNumber"], values["customerId"] = invoice["customerNumber"], invoice["customerId"]
        elif "appliesToInvoiceNumber" in changes:
            number = changes["appliesToInvoiceNumber"]
            match = next((i for i in self._invoices.get(company_id, ()) if i["number"] == number), None)
            if number and match is None:
                raise DataError(400, "Application_DialogException",
                                'The "appliesToInvoiceNumber" does not match to a Sales Invoice.')
            values["appliesToInvoiceId"] = match["id"] if match else ZERO_GUID
        return values

    def patch_payment(self, payment_id: str, changes: Mapping[str, Any], *, if_match: str | None = None,
                      company_id: str | None = None) -> Record:
        """Change a payment; ``if_match`` (an ETag or ``*``) guards against lost updates. Returns the new record."""
        with self.lock:
            current = self.payment(payment_id, company_id)
            if current is None:
                raise not_found("Gen. Journal Line", payment_id)
            self._check_etag(current, if_match)
            journal_id = changes.get("journalId")
            if journal_id is not None and journal_id != current["journalId"]:
                raise DataError(400, "Application_DialogException", "The Journal Id cannot be changed.")
            name = changes.get("journalDisplayName")
            if name is not None and name != current["journalDisplayName"]:
                raise DataError(400, "Application_DialogException",
                                "The Journal Batch Display Name cannot be changed.")
            rest = {k: v for k, v in changes.items() if k not in ("journalId", "journalDisplayName")}
            values = self._resolve_payment_values(current["_company"], current, rest)
            if values["lineNumber"] != current["lineNumber"] and any(
                r["lineNumber"] == values["lineNumber"] for r in self._lines[current["journalId"]]
            ):
                raise DataError(409, "Internal_EntityWithSameKeyExists",
                                f"The record already exists. Line No.='{values['lineNumber']}'")
            updated = self._stamp(values, iso_ms(datetime.now(UTC)))
            self._replace_payment(current, updated)
            return updated

    def create_payment(self, company_id: str, journal_id: str, values: Mapping[str, Any]) -> Record:
        """Add a line to a journal (line number and document number filled in when blank). Returns it."""
        with self.lock:
            journal = self.journal(company_id, journal_id)
            if journal is None:
                raise not_found("Gen. Journal Batch", journal_id)
            lines = self._lines[journal_id]
            last = lines[-1] if lines else None
            template: Record = {
                "id": str(uuid.uuid4()),
                "journalId": journal_id,
                "journalDisplayName": journal["code"],
                "lineNumber": (last["lineNumber"] if last else 0) + LINE_STEP,
                "customerId": ZERO_GUID,
                "customerNumber": "",
                "contactId": "",
                "postingDate": datetime.now(UTC).date().isoformat(),
                "documentNumber": _next_document_number(last["documentNumber"] if last else "G00001"),
                "externalDocumentNumber": "",
                "amount": 0,
                "appliesToInvoiceId": ZERO_GUID,
                "appliesToInvoiceNumber": "",
                "description": "",
                "comment": "",
                "dimensions": [],
                "lastModifiedDateTime": "",
                "_company": company_id,
            }
            given = {k: v for k, v in values.items() if k not in ("journalId", "journalDisplayName")}
            if given.get("lineNumber") in (None, 0):
                given.pop("lineNumber", None)
            if not given.get("documentNumber"):
                given.pop("documentNumber", None)
            record = self._resolve_payment_values(company_id, template, given)
            if any(r["lineNumber"] == record["lineNumber"] for r in lines):
                raise DataError(409, "Internal_EntityWithSameKeyExists",
                                f"The record already exists. Line No.='{record['lineNumber']}'")
            record = self._stamp(record, iso_ms(datetime.now(UTC)))
            lines.append(record)
            lines.sort(key=lambda r: r["lineNumber"])
            self._payment_by_id[record["id"]] = record
            return record

    def delete_payment(self, payment_id: str, *, if_match: str | None = None, company_id: str | None = None) -> None:
        with self.lock:
            current = self.payment(payment_id, company_id)
            if current is None:
                raise not_found("Gen. Journal Line", payment_id)
            self._check_etag(current, if_match)
            self._lines[current["journalId"]].remove(current)
            del self._payment_by_id[payment_id]

    def post_journal(self, company_id: str, journal_id: str) -> int:
        """Post a journal: its lines disappear and the invoices they apply to are settled. Returns the count."""
        with self.lock:
            journal = self.journal(company_id, journal_id)
            if journal is None:
                raise not_found("Gen. Journal Batch", journal_id)
            lines = self._lines[journal_id]
            now = iso_ms(datetime.now(UTC))
            invoices = self._invoices[company_id]
            position = {inv["id"]: i for i, inv in enumerate(invoices)}
            for line in lines:
                index = position.get(line["appliesToInvoiceId"])
                if index is None or line["amount"] >= 0:  # payments are negative (viewer/checks.py)
                    continue
                invoice = invoices[index]
                remaining = max(0.0, round(float(invoice["remainingAmount"]) + float(line["amount"]), 2))
                updated = {**invoice, "remainingAmount": _num(remaining),
                           "status": "Paid" if remaining == 0 else invoice["status"]}
                invoices[index] = self._stamp(updated, now)
                self._invoice_by_id[updated["id"]] = updated
            for line in lines:
                del self._payment_by_id[line["id"]]
            count = len(lines)
            self._lines[journal_id] = []
            self._refresh_balances(company_id)
            return count

    def note_read(self, payment_id: str, now: float | None = None) -> None:
        """Remember that a client just read this payment (the API calls it on every single-payment GET)."""
        moment = time.monotonic() if now is None else now
        with self.lock:
            first = self._recent_reads.pop(payment_id, (moment, moment))[0]
            if moment - first > RECENT_READ_SECONDS:
                first = moment  # read again after a long pause: as good as newly opened
            self._recent_reads[payment_id] = (first, moment)
            while len(self._recent_reads) > RECENT_READ_LIMIT:
                del self._recent_reads[next(iter(self._recent_reads))]

    def first_journal(self) -> Record | None:
        """The journal a client that takes the first of each list opens: the first company's first journal
        in API order (``main.py --sandbox`` does exactly that, see ui/controller.py ``_restore_navigation``)."""
        with self.lock:
            journals = self._journals.get(self._companies[0]["id"], []) if self._companies else []
            return journals[0] if journals else None

    def _activity_target(self, now: float) -> Record | None:
        """The payment the next activity tick edits.

        Someone who opens a payment should see it change within a tick or two (issue 13), so: first a payment
        newly read since the last edit of it, then, every other tick or so, one of the recently read ones,
        otherwise a random line of the journal the app opens first (or of the first company).
        """
        rng = self._activity_rng
        recent = [(pid, first) for pid, (first, last) in self._recent_reads.items()
                  if now - last <= RECENT_READ_SECONDS and pid in self._payment_by_id]
        fresh = [pid for pid, first in recent if self._activity_edits.get(pid, -1.0) < first]
        if fresh:
            return self._payment_by_id[fresh[-1]]
        if recent and rng.random() < 0.5:
            return self._payment_by_id[recent[rng.randrange(len(recent))][0]]
        journal = self.first_journal()
        lines = self._lines.get(str(journal["id"]), []) if journal is not None else []
        if not lines:
            lines = self.company_payments(self.demo.company_id)
        return lines[rng.randrange(len(lines))] if lines else None

    def activity_tick(self, now: float | None = None) -> str | None:
        """Edit one payment the way a colleague would (amount, texts, external document no.). Returns its id."""
        moment = time.monotonic() if now is None else now
        with self.lock:
            rng = self._activity_rng
            current = self._activity_target(moment)
            if current is None:
                return None
            edits: dict[str, Callable[[Record], Any]] = {
                "amount": lambda r: _num(round(float(r["amount"]) + rng.choice([-1, 1]) * rng.uniform(1, 250), 2)),
                "description": lambda r: rng.choice(_DESCRIPTIONS["en"]).format(
                    inv=r["appliesToInvoiceNumber"], cust=r["customerNumber"], n=rng.randint(1000, 9999)
                ).strip()[:100],
                "comment": lambda r: f"Edited by a colleague at {datetime.now(UTC):%H:%M:%S} UTC",
                "externalDocumentNumber": lambda r: f"TRX-2025-{rng.randint(1, 999999):06d}",
            }
            chosen = rng.sample(sorted(edits), k=rng.randint(1, 2))
            if current["id"] in self.check_cases.values():
                # A payment checks' seeded line keeps its case (README "Payment checks"): only its text changes.
                chosen = ["description"]
            changes = {name: edits[name](current) for name in chosen}
            values = {**current, **changes}
            updated = self._stamp(values, iso_ms(datetime.now(UTC)))
            self._replace_payment(current, updated)
            self._activity_edits[str(updated["id"])] = moment
            return str(updated["id"])


def _num(value: float | int) -> float | int:
    """Whole amounts as ints so JSON shows ``1500`` like Business Central, others as floats."""
    as_float = float(value)
    return int(as_float) if as_float.is_integer() else round(as_float, 2)


def _next_document_number(previous: str) -> str:
    """Increment the trailing digits (``G02017`` → ``G02018``), as a number series does."""
    head = previous.rstrip("0123456789")
    digits = previous[len(head):]
    if not digits:
        return previous + "1"
    return head + str(int(digits) + 1).zfill(len(digits))


def public(record: Mapping[str, Any], fields: Iterable[str] | None = None) -> Record:
    """A record without its private keys (optionally only ``fields``)."""
    if fields is None:
        return {k: v for k, v in record.items() if not k.startswith("_")}
    return {k: record[k] for k in fields}
