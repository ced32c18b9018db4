"""Building XMeld 25.11a messages from hub records (lxml), validated before anything is sent.

Every message gets a fresh ``nachrichtenUUID``, its ``nachrichtentyp``, ``erstellungszeitpunkt``
with milliseconds and time zone, author and reader authorities (DVDV ``verzeichnisdienst`` and
``kennung``; the reader's ``ags:<AGS>`` is derived from the record's ARS) and the hub's
``produkt``/``produkthersteller``/``produktversion``. Applicant data goes in exactly as delivered;
what the standard's datatypes do not allow is refused with the field and the schema's words.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree

import hub
from hub_xmeld.schemas import XMELD_NS, Issue, XMeldSchema

BERLIN = ZoneInfo("Europe/Berlin")
# Code list versions the 25.11a instances carry (as in KoSIT's reference messages).
VERZEICHNISDIENST_VERSION = "3"
KANAL_VERSION = "3"
AGS_LIST_VERSION = "2025-07-31"
KANAL = {"email": "01", "phone": "02", "fax": "04"}


class MessageInvalid(hub.PermanentError):
    """A message built from a record does not satisfy the official schema."""

    def __init__(self, message_type: str, issues: list[Issue]):
        self.issues = issues
        details = "; ".join(f"{i.path}: {i.brief}" for i in issues[:5])
        super().__init__(f"XMeld {message_type} would not be valid: {details}")


@dataclass(frozen=True)
class PostalAddress:
    strasse: str
    postleitzahl: str
    wohnort: str
    hausnummer: str | None = None


@dataclass(frozen=True)
class Authority:
    """An authority as XMeld names it: DVDV key, name, how to reach it, its postal address."""

    kennung: str  # DVDV organisation key, e.g. ags:05111000 or psw:01003110
    name: str
    address: PostalAddress | None  # required for the author, optional for the reader
    contacts: dict[str, str] = field(default_factory=dict)  # email/phone/fax → value

    @classmethod
    def meldebehoerde(
        cls,
        ars: str,
        name: str,
        address: PostalAddress | None = None,
        contacts: dict[str, str] | None = None,
    ) -> Authority:
        """The registration office of a municipality: DVDV key ``ags:`` + the AGS of its ARS."""
        return cls(f"ags:{ars[:5]}{ars[9:]}", name, address, contacts or {})


@dataclass(frozen=True)
class Product:
    produkt: str = "hub"
    produkthersteller: str = "hub contributors"
    produktversion: str = hub.__version__


def _sub(
    parent: Any, tag: str, text: str | None = None, *, ns: str | None = None, **attrs: str
) -> Any:
    el = etree.SubElement(parent, f"{{{ns}}}{tag}" if ns else tag, **attrs)
    if text is not None:
        el.text = text
    return el


def _code(parent: Any, tag: str, code: str, *, ns: str | None = None, **attrs: str) -> Any:
    el = _sub(parent, tag, ns=ns, **attrs)
    _sub(el, "code", code)
    return el


def _behoerde(parent: Any, tag: str, authority: Authority, *, with_contacts: bool) -> None:
    el = _sub(parent, tag)
    _code(el, "verzeichnisdienst", "DVDV", listVersionID=VERZEICHNISDIENST_VERSION)
    _sub(el, "kennung", authority.kennung)
    _sub(el, "name", authority.name)
    if with_contacts:
        for kind, value in authority.contacts.items():
            reach = _sub(el, "erreichbarkeit")
            _code(reach, "kanal", KANAL[kind], listVersionID=KANAL_VERSION)
            _sub(reach, "kennung", value)


def _anschrift(parent: Any, tag: str, address: PostalAddress) -> None:
    building = _sub(_sub(parent, tag), "gebaeude")
    if address.hausnummer:
        _sub(building, "hausnummer", address.hausnummer)
    _sub(building, "postleitzahl", address.postleitzahl)
    _sub(building, "strasse", address.strasse)
    _sub(building, "wohnort", address.wohnort)


def timestamp(now: datetime | None = None) -> str:
    """dateTime with milliseconds and the Berlin offset, as the reference messages carry it."""
    at = (now or datetime.now(BERLIN)).astimezone(BERLIN)
    return at.isoformat(timespec="milliseconds")


def message(
    root_name: str,
    type_code: str,
    author: Authority,
    reader: Authority,
    product: Product,
    *,
    test: bool = False,
    now: datetime | None = None,
    standard: tuple[str, str, str, str] = ("xmeld", XMELD_NS, "XMeld", "25.11a"),
) -> Any:
    """A message's root element with ``nachrichtenkopf.g2g`` and both postal addresses.

    ``standard`` is (prefix, namespace, standard, version) of the root: XMeld by default, the
    XInneres Rückweisung for a 0010."""
    prefix, namespace, name, version = standard
    root = etree.Element(
        f"{{{namespace}}}{root_name}",
        nsmap={prefix: namespace},
        produkt=product.produkt,
        produkthersteller=product.produkthersteller,
        produktversion=product.produktversion,
        standard=name,
        version=version,
    )
    if test:
        root.set("test", "true")
    head = _sub(root, "nachrichtenkopf.g2g")
    ident = _sub(head, "identifikation.nachricht")
    _sub(ident, "nachrichtenUUID", str(uuid.uuid4()))
    _code(ident, "nachrichtentyp", type_code)
    _sub(ident, "erstellungszeitpunkt", timestamp(now))
    _behoerde(head, "leser", reader, with_contacts=bool(reader.contacts))
    _behoerde(head, "autor", author, with_contacts=True)
    if reader.address is not None:
        _anschrift(root, "anschrift.leser", reader.address)
    if author.address is None:
        raise ValueError("the author of an XMeld message needs a postal address")
    _anschrift(root, "anschrift.autor", author.address)
    return root


def _name(parent: Any, tag: str, value: str | None) -> None:
    el = _sub(parent, tag, ns=XMELD_NS)
    if value:
        _sub(el, "name", value)
    else:
        _sub(el, "nichtVorhanden", "true")


def _teilbekannt(parent: Any, tag: str, day: date | str | None, *, ns: str | None) -> None:
    """``xida:TeilbekanntesDatumMitUnbekannt``: the full date, or ``unbekannt``."""
    el = _sub(parent, tag, ns=ns)
    if day is None:
        _sub(el, "unbekannt", "true")
    else:
        text = day if isinstance(day, str) else day.isoformat()
        _sub(_sub(el, "teilbekanntesDatum"), "jahrMonatTag", text)


def identifikation(
    parent: Any,
    record: hub.Record,
    *,
    address: str | None = None,
    postal_code: str | None = None,
    ags: str | None = None,
) -> None:
    """``type.Onlinedienste.Identifikation`` from the record's applicant. The address is the
    applicant's registered one: by default the applicant's address in the record's municipality;
    ``address`` (street and number), ``postal_code`` and ``ags`` name another (an Anmeldung
    identifies the person by the dwelling registered so far)."""
    applicant = record.applicant
    if applicant is None:
        raise hub.PermanentError("an XMeld Onlinedienste message needs the record's applicant")
    if address is None:
        own = applicant.address
        if own is None or not own.street or not own.postal_code:
            raise hub.PermanentError("an XMeld identification needs street and postal code")
        address, postal_code = own.street, own.postal_code
    if ags is None:
        ars = record.municipality.ars
        ags = ars[:5] + ars[9:]
    ident = _sub(parent, "identifikation", ns=XMELD_NS)
    _name(ident, "familienname.unstrukturiert", applicant.family_name)
    _name(ident, "vornamen", applicant.given_names)
    geburt = _sub(ident, "geburt", ns=XMELD_NS)
    _teilbekannt(geburt, "geburtsdatum", applicant.date_of_birth, ns=XMELD_NS)
    anschrift = _sub(ident, "anschrift", ns=XMELD_NS)
    _code(anschrift, "gemeindeschluessel", ags, ns=XMELD_NS, listVersionID=AGS_LIST_VERSION)
    _sub(anschrift, "postleitzahl", postal_code, ns=XMELD_NS)
    _sub(_sub(anschrift, "strasseUndHausnummer", ns=XMELD_NS), "konkateniert", address, ns=XMELD_NS)


def bestaetigungscode_1706(
    record: hub.Record, code: str, author: Authority, reader: Authority, product: Product, **kw: Any
) -> Any:
    """``onlinedienste.anmeldung.bestaetigungscode.1706``: the citizen's confirmation code."""
    root = message(
        "onlinedienste.anmeldung.bestaetigungscode.1706", "1706", author, reader, product, **kw
    )
    identifikation(root, record)
    _sub(root, "code", code, ns=XMELD_NS)
    return root


def validated(root: Any, schema: XMeldSchema) -> bytes:
    """Serialize ``root`` if it satisfies the schema; raise :class:`MessageInvalid` otherwise."""
    issues = schema.issues(root.getroottree())
    if issues:
        raise MessageInvalid(etree.QName(root).localname, issues)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


ZUSTELLVARIANTE = {"post": "01", "data": "02", "document": "03"}


def meldebescheinigung_1700(
    record: hub.Record,
    author: Authority,
    reader: Authority,
    product: Product,
    *,
    zustellung: str = "document",
    erweitert: list[str] | None = None,
    **kw: Any,
) -> Any:
    """``onlinedienste.abrufanfrage.meldebescheinigung.1700``: a certificate of registration.

    ``zustellung``: post (01), data (02) or document (03, a PDF); ``erweitert``: codes of the
    extended data set, else the minimum content.
    """
    root = message(
        "onlinedienste.abrufanfrage.meldebescheinigung.1700", "1700", author, reader, product, **kw
    )
    identifikation(root, record)
    control = _sub(root, "steuerungsinformationen", ns=XMELD_NS)
    scope = _sub(control, "datenumfang", ns=XMELD_NS)
    if erweitert:
        for code in erweitert:
            _code(scope, "meldebescheinigungErweitert", code, ns=XMELD_NS)
    else:
        _sub(scope, "meldebescheinigungMindestumfang", "true", ns=XMELD_NS)
    _code(control, "zustellvariante", ZUSTELLVARIANTE[zustellung], ns=XMELD_NS)
    return root
