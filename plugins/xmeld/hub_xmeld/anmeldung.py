"""The electronic Anmeldung (LeiKa ``99115005104…``): what the record's payload must hold, and
``onlinedienste.anmeldung.meldeschein.1704`` built from it.

The applicant's names and birth data come from the record's ``applicant`` (from BundID when the
citizen logged in); the payload adds what the Meldeschein asks beyond that (§ 23 BMG with the
BMeldDigiV): sex, nationalities, religion, marital status, the new dwelling and when it was
moved into, the previous dwelling, the Wohnungsgeber and his confirmation, and the partner and
children moving too. Codes are those of the standard's code lists (DSMeld, Destatis, XInneres).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date
from typing import Any

import hub
from hub_xmeld.messages import (
    AGS_LIST_VERSION,
    XMELD_NS,
    Authority,
    Product,
    _code,
    _name,
    _sub,
    _teilbekannt,
    identifikation,
    message,
)

LEIKA_PATTERN = "99115005104*"

_TEXT = {"type": "string", "minLength": 1, "maxLength": 255}
_DATE = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
_AGS = {"type": "string", "pattern": r"^[0-9]{8}$", "description": "Amtlicher Gemeindeschlüssel"}

PAYLOAD_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Anmeldung einer Wohnung (XMeld 1704)",
    "type": "object",
    "additionalProperties": False,
    "required": ["moving_in_date", "new_dwelling", "landlord", "person"],
    "properties": {
        "moving_in_date": {**_DATE, "description": "datumDesBeziehens of the new dwelling"},
        "moving_out_date": {**_DATE, "description": "datumDesAuszugs from the previous one"},
        "new_dwelling": {
            "allOf": [{"$ref": "#/$defs/address"}],
            "required": ["status"],
            "properties": {
                "status": {
                    "enum": ["sole", "main", "secondary"],
                    "description": "alleinige Wohnung, Hauptwohnung or Nebenwohnung",
                }
            },
            "unevaluatedProperties": False,
        },
        "previous_dwelling": {
            "$ref": "#/$defs/previous_dwelling",
            "description": "The dwelling registered so far (omit when moving in from abroad)",
        },
        "moved_from_abroad": {**_DATE, "description": "zuzugBund: date of moving to Germany"},
        "person": {"$ref": "#/$defs/person"},
        "partner": {
            "allOf": [{"$ref": "#/$defs/co_mover"}],
            "required": ["relation"],
            "properties": {"relation": {"enum": ["spouse", "civil_partner"]}},
            "unevaluatedProperties": False,
        },
        "children": {
            "type": "array",
            "maxItems": 20,
            "items": {
                "allOf": [{"$ref": "#/$defs/co_mover"}],
                "properties": {
                    "partner_only": {
                        "const": True,
                        "description": "a child of the partner only (nurPartnerZugeordnet)",
                    }
                },
                "unevaluatedProperties": False,
            },
        },
        "landlord": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name_and_address"],
            "properties": {
                "name_and_address": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 6,
                    "items": _TEXT,
                    "description": "Lines of the Wohnungsgeber's name and address",
                },
                "owner": {
                    "type": "array",
                    "maxItems": 6,
                    "items": _TEXT,
                    "description": "The owner, when not the Wohnungsgeber",
                },
            },
        },
        "landlord_confirmation_pdf": {
            "type": "string",
            "contentEncoding": "base64",
            "pattern": r"^[A-Za-z0-9+/]+={0,2}$",
            "maxLength": 1_400_000,
            "description": "Wohnungsgeberbestätigung (§ 19 BMG) as a base64 PDF",
        },
        "notes": {"type": "array", "maxItems": 5, "items": {**_TEXT, "maxLength": 2000}},
    },
    "$defs": {
        "previous_dwelling": {
            "allOf": [{"$ref": "#/$defs/address"}],
            "required": ["ags"],
            "properties": {"ags": _AGS, "moved_in": _DATE},
            "unevaluatedProperties": False,
        },
        "address": {
            "type": "object",
            "required": ["street", "postal_code", "city"],
            "properties": {
                "street": _TEXT,
                "house_number": {"type": "string", "pattern": r"^[0-9]{1,4}$"},
                "house_number_suffix": {"type": "string", "minLength": 1, "maxLength": 4},
                "flat": {"type": "string", "minLength": 1, "maxLength": 4},
                "postal_code": {"type": "string", "pattern": r"^[0-9]{5}$"},
                "city": _TEXT,
                "addition": _TEXT,
            },
        },
        "person_data": {
            "type": "object",
            "required": ["sex", "nationalities", "religion", "marital_status"],
            "properties": {
                "sex": {
                    "enum": ["m", "w", "d", "x"],
                    "description": "XInneres code list Geschlecht (§§ 22, 45b PStG)",
                },
                "nationalities": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 4,
                    "uniqueItems": True,
                    "items": {"type": "string", "pattern": r"^[0-9]{3}$"},
                    "description": "Destatis Staatsangehörigkeitsschlüssel, 000 = deutsch",
                },
                "religion": {
                    "type": "string",
                    "pattern": r"^[a-z\-]{2}$",
                    "description": "DSMeld key religion.steuererhebend, e.g. rk, ev, lt",
                },
                "marital_status": {
                    "enum": ["EA", "GS", "LA", "LD", "LE", "LP", "LV", "NB", "VH", "VW"],
                    "description": "DSMeld Familienstand (LD ledig, VH verheiratet, …)",
                },
                "marital_status_since": _DATE,
                "birth_country": {
                    "type": "string",
                    "pattern": r"^[0-9]{3}$",
                    "description": "Destatis Staatsgebiet key, when born abroad",
                },
            },
        },
        "person": {
            "allOf": [{"$ref": "#/$defs/person_data"}],
            "unevaluatedProperties": False,
        },
        "co_mover": {
            "allOf": [{"$ref": "#/$defs/person_data"}],
            "required": ["family_name", "date_of_birth"],
            "properties": {
                "family_name": _TEXT,
                "given_names": _TEXT,
                "birth_name": _TEXT,
                "date_of_birth": _DATE,
                "place_of_birth": _TEXT,
                "previous_dwelling": {"$ref": "#/$defs/previous_dwelling"},
            },
        },
    },
}

WOHNUNGSSTATUS = {"sole": "0", "main": "1", "secondary": "2"}
PARTNERSCHAFT = {"spouse": "EG", "civil_partner": "LP"}


@dataclass(frozen=True)
class CodeListVersions:
    """``listVersionID`` of the code lists whose version the instance must name. Set them to the
    versions the office's Fachverfahren expects (they are published on XRepository)."""

    gemeindeschluessel: str = AGS_LIST_VERSION
    staatsangehoerigkeit: str = "2025-02-01"
    staatsgebiet: str = "2025-02-01"
    geschlecht: str = "1"
    religion: str = "2"


@dataclass(frozen=True)
class _Person:
    family_name: str
    given_names: str | None
    birth_name: str | None
    date_of_birth: date | None
    place_of_birth: str | None
    data: dict[str, Any]


def _applicant(record: hub.Record) -> _Person:
    a = record.applicant
    if a is None:
        raise hub.PermanentError("an Anmeldung needs the record's applicant")
    return _Person(
        a.family_name,
        a.given_names,
        a.birth_name,
        a.date_of_birth,
        a.place_of_birth,
        record.payload["person"],
    )


def _co_mover(data: dict[str, Any]) -> _Person:
    return _Person(
        data["family_name"],
        data.get("given_names"),
        data.get("birth_name"),
        date.fromisoformat(data["date_of_birth"]),
        data.get("place_of_birth"),
        data,
    )


def _anschrift_inland(parent: Any, tag: str, address: dict[str, Any], ags: str, v: Any) -> None:
    el = _sub(parent, tag, ns=XMELD_NS)
    _code(el, "gemeindeschluessel", ags, listVersionID=v.gemeindeschluessel)
    if address.get("house_number"):
        _sub(el, "hausnummer", address["house_number"])
    if address.get("house_number_suffix"):
        _sub(el, "hausnummerBuchstabeZusatzziffer", address["house_number_suffix"])
    _sub(el, "postleitzahl", address["postal_code"])
    if address.get("flat"):
        _sub(el, "stockwerkswohnungsnummer", address["flat"])
    _sub(el, "strasse", address["street"])
    _sub(el, "wohnort", address["city"])
    if address.get("addition"):
        _sub(el, "zusatzangaben", address["addition"])


def _personendaten(
    parent: Any,
    tag: str,
    person: _Person,
    dwellings: list[tuple[dict[str, Any], str, str | None]],
    new_status: str,
    moved_from_abroad: str | None,
    v: CodeListVersions,
) -> Any:
    """``type.Meldeschein.Personendaten``: the person's data as the applicant confirms them."""
    x = XMELD_NS
    el = _sub(parent, tag, ns=x)
    pd = _sub(_sub(el, "bestaetigteMeldedaten", ns=x), "personendaten", ns=x)
    name = _sub(pd, "name", ns=x)
    family = _sub(name, "familienname.unstrukturiert", ns=x)
    _name(family, "nachname", person.family_name)
    if person.birth_name:
        _name(name, "geburtsname.unstrukturiert", person.birth_name)
    _name(_sub(name, "vornamen", ns=x), "vornamen", person.given_names)
    birth = _sub(pd, "geburtsangaben", ns=x)
    if person.place_of_birth:
        _sub(birth, "geburtsort", person.place_of_birth, ns=x)
    if person.data.get("birth_country"):
        _code(
            birth,
            "geburtsortStaat",
            person.data["birth_country"],
            ns=x,
            listVersionID=v.staatsgebiet,
        )
    _teilbekannt(birth, "geburtsdatum", person.date_of_birth, ns=x)
    _code(pd, "geschlecht", person.data["sex"], ns=x, listVersionID=v.geschlecht)
    for nationality in person.data["nationalities"]:
        _code(pd, "staatsangehoerigkeit", nationality, ns=x, listVersionID=v.staatsangehoerigkeit)
    religion = _sub(pd, "religionszugehoerigkeit", ns=x)
    _code(
        religion,
        "religion.steuer.erhebend",
        person.data["religion"],
        ns=x,
        listVersionID=v.religion,
    )
    for address, ags, moved_in in dwellings:
        wohnung = _sub(pd, "wohnung", ns=x)
        anschrift = _sub(wohnung, "anschrift", ns=x)
        _anschrift_inland(anschrift, "anschrift.inland", address, ags, v)
        if moved_in:  # xida:TagesdatumMitUnbekannt
            _sub(_sub(wohnung, "datumDesBeziehens", ns=x), "datum", moved_in)
    if moved_from_abroad:
        _sub(pd, "zuzugBund", moved_from_abroad, ns=x)
    status = _sub(pd, "familienstand", ns=x)
    if person.data.get("marital_status_since"):
        since = _sub(status, "datumBeginn", ns=x)
        _sub(since, "jahrMonatTag", person.data["marital_status_since"])
    _code(status, "familienstand", person.data["marital_status"], ns=x)
    _code(el, "statusDerNeuenWohnung", new_status, ns=x)
    return el


def meldeschein_1704(
    record: hub.Record,
    author: Authority,
    reader: Authority,
    product: Product,
    *,
    versions: CodeListVersions | None = None,
    **kw: Any,
) -> Any:
    """``onlinedienste.anmeldung.meldeschein.1704``: the complete Anmeldung, portal → office."""
    v = versions or CodeListVersions()
    p = record.payload
    new = p["new_dwelling"]
    new_ags = _ags(record.municipality.ars)
    previous = p.get("previous_dwelling")
    status = WOHNUNGSSTATUS[new["status"]]
    # The register's dwellings the applicant confirms: the previous one, or (moving in from
    # abroad) only the new one.
    own = [(previous, previous["ags"], previous.get("moved_in"))] if previous else []
    dwellings = own or [(new, new_ags, p["moving_in_date"])]

    root = message(
        "onlinedienste.anmeldung.meldeschein.1704", "1704", author, reader, product, **kw
    )
    if previous:
        identifikation(
            root,
            record,
            address=_street_line(previous),
            ags=previous["ags"],
            postal_code=previous["postal_code"],
        )
    else:
        identifikation(
            root, record, address=_street_line(new), ags=new_ags, postal_code=new["postal_code"]
        )
    abroad = p.get("moved_from_abroad")
    _personendaten(root, "berechtigtePerson", _applicant(record), dwellings, status, abroad, v)
    partner, children = p.get("partner"), p.get("children") or []
    if partner or children:
        others = _sub(root, "weitereMitzuziehendePerson", ns=XMELD_NS)
        if partner:
            el = _sub(others, "partner", ns=XMELD_NS)
            _code(el, "partnerschaftstyp", PARTNERSCHAFT[partner["relation"]], ns=XMELD_NS)
            _personendaten(
                el,
                "personendaten",
                _co_mover(partner),
                _their(partner, dwellings),
                status,
                abroad,
                v,
            )
        for child in children:
            kind = _personendaten(
                others, "kind", _co_mover(child), _their(child, dwellings), status, abroad, v
            )
            if child.get("partner_only"):
                _sub(kind, "nurPartnerZugeordnet", "true", ns=XMELD_NS)
    extra = _sub(root, "ergaenzendeMeldedaten", ns=XMELD_NS)
    landlord = _sub(extra, "wohnungsgeber", ns=XMELD_NS)
    zone = _sub(landlord, "wohnungsgeberNameAnschrift", ns=XMELD_NS)
    for position, line in enumerate(p["landlord"]["name_and_address"], start=1):
        row = _sub(zone, "zeile", ns=XMELD_NS)
        _sub(row, "position", str(position), ns=XMELD_NS)
        _sub(row, "inhalt", line, ns=XMELD_NS)
    for owner in p["landlord"].get("owner") or []:
        _sub(landlord, "eigentuemerNichtWohnungsgeber", owner, ns=XMELD_NS)
    wohnung = _sub(extra, "wohnung", ns=XMELD_NS)
    _anschrift_inland(wohnung, "anschrift", new, new_ags, v)
    _sub(wohnung, "datumDesBeziehens", p["moving_in_date"], ns=XMELD_NS)
    if p.get("moving_out_date"):
        _sub(extra, "datumDesAuszugs", p["moving_out_date"], ns=XMELD_NS)
    if p.get("landlord_confirmation_pdf"):
        pdf = base64.b64decode(p["landlord_confirmation_pdf"], validate=True)
        _sub(extra, "wohnungsgeberbestaetigung", base64.b64encode(pdf).decode(), ns=XMELD_NS)
    for note in p.get("notes") or []:
        _sub(root, "freitext", note, ns=XMELD_NS)
    return root


def _ags(ars: str) -> str:
    return ars[:5] + ars[9:]


def _street_line(address: dict[str, Any]) -> str:
    number = (address.get("house_number") or "") + (address.get("house_number_suffix") or "")
    return f"{address['street']} {number}".strip()


def _their(
    person: dict[str, Any], household: list[tuple[dict[str, Any], str, str | None]]
) -> list[tuple[dict[str, Any], str, str | None]]:
    """A co-mover's registered dwelling: their own previous one if given, else the household's."""
    own = person.get("previous_dwelling")
    if own:
        return [(own, own["ags"], own.get("moved_in"))]
    return household


__all__ = ["LEIKA_PATTERN", "PAYLOAD_SCHEMA", "CodeListVersions", "meldeschein_1704"]
