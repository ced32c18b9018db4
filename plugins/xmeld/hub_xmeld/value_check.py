"""The fast path of the XMeld intake check for the Anmeldung (1704).

Building and validating a whole 1704 per record is what made Anmeldungen slow at intake. A
1704 built from a record is valid when (a) its structure is, and (b) every value the record
contributes satisfies the XMeld datatype of the element it lands in. The structure depends only
on the record's *shape*: which fields are present, how many children, which mapped codes
(``status``, ``relation``, ``partner_only``). So:

- each value is checked against its element's datatype (patterns, lengths, enumerations,
  whitespace and the primitive type, read once from the official schema with ``xmlschema``
  and compiled to plain regular expressions);
- the whole message is built and validated as before the first time a shape comes in, and
  whenever a value fails or a field is not known here — the full check then decides, with the
  schema's own words.

Anything this module does not understand (a field without a known element, a datatype with
facets it does not compile) means "build and validate", never "accept".
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import structlog

import hub
from hub_xmeld import schemas
from hub_xmeld.anmeldung import _street_line

log = structlog.get_logger("hub.xmeld")

Check = Callable[[str], bool]
MAX_SHAPES = 10_000  # shapes remembered per process; beyond that, new shapes are built each time

_PERSON = "bestaetigteMeldedaten/personendaten/"
_APPLICANT = "berechtigtePerson/" + _PERSON
_PARTNER = "weitereMitzuziehendePerson/partner/personendaten/" + _PERSON
_CHILD = "weitereMitzuziehendePerson/kind/" + _PERSON
_DWELLING = "wohnung/anschrift/anschrift.inland/"
_NEW = "ergaenzendeMeldedaten/wohnung/anschrift/"
_IDENT = "identifikation/"

# A person's fields (payload.person, partner, children) → element under personendaten.
_PERSON_FIELDS = {
    "family_name": "name/familienname.unstrukturiert/nachname/name",
    "given_names": "name/vornamen/vornamen/name",
    "birth_name": "name/geburtsname.unstrukturiert/name",
    "date_of_birth": "geburtsangaben/geburtsdatum/teilbekanntesDatum/jahrMonatTag",
    "place_of_birth": "geburtsangaben/geburtsort",
    "birth_country": "geburtsangaben/geburtsortStaat/code",
    "sex": "geschlecht/code",
    "nationalities[]": "staatsangehoerigkeit/code",
    "religion": "religionszugehoerigkeit/religion.steuer.erhebend/code",
    "marital_status": "familienstand/familienstand/code",
    "marital_status_since": "familienstand/datumBeginn/jahrMonatTag",
}
# An address's fields → element of an anschrift.inland (or the new dwelling's anschrift).
_ADDRESS_FIELDS = {
    "street": "strasse",
    "house_number": "hausnummer",
    "house_number_suffix": "hausnummerBuchstabeZusatzziffer",
    "flat": "stockwerkswohnungsnummer",
    "postal_code": "postleitzahl",
    "city": "wohnort",
    "addition": "zusatzangaben",
}
# The applicant's fields the 1704 carries → every element each lands in.
_APPLICANT_FIELDS = {
    "family_name": [_IDENT + "familienname.unstrukturiert/name",
                    _APPLICANT + _PERSON_FIELDS["family_name"]],
    "given_names": [_IDENT + "vornamen/name", _APPLICANT + _PERSON_FIELDS["given_names"]],
    "birth_name": [_APPLICANT + _PERSON_FIELDS["birth_name"]],
    "date_of_birth": [
        _IDENT + "geburt/geburtsdatum/teilbekanntesDatum/jahrMonatTag",
        _APPLICANT + _PERSON_FIELDS["date_of_birth"],
    ],
    "place_of_birth": [_APPLICANT + _PERSON_FIELDS["place_of_birth"]],
}  # fmt: skip
# Fields whose value the builder maps to a code or uses to decide structure: part of the shape.
_SHAPE_VALUES = {"payload.new_dwelling.status", "payload.partner.relation",
                 "payload.children[].partner_only"}  # fmt: skip
_STREET_LINE = _IDENT + "anschrift/strasseUndHausnummer/konkateniert"
_IDENT_POSTAL_CODE = _IDENT + "anschrift/postleitzahl"


def _payload_fields() -> dict[str, list[str]]:
    """Every payload leaf (lists as ``[]``) → the elements its value lands in."""
    fields: dict[str, list[str]] = {
        "moving_in_date": ["ergaenzendeMeldedaten/wohnung/datumDesBeziehens"],
        "moving_out_date": ["ergaenzendeMeldedaten/datumDesAuszugs"],
        "moved_from_abroad": [_APPLICANT + "zuzugBund"],
        "landlord.name_and_address[]": [
            "ergaenzendeMeldedaten/wohnungsgeber/wohnungsgeberNameAnschrift/zeile/inhalt"
        ],
        "landlord.owner[]": ["ergaenzendeMeldedaten/wohnungsgeber/eigentuemerNichtWohnungsgeber"],
        "landlord_confirmation_pdf": ["ergaenzendeMeldedaten/wohnungsgeberbestaetigung"],
        "notes[]": ["freitext"],
    }
    for key, element in _ADDRESS_FIELDS.items():
        fields[f"new_dwelling.{key}"] = [_NEW + element]
    for person, prefix in (("person", _APPLICANT), ("partner", _PARTNER), ("children[]", _CHILD)):
        for key, element in _PERSON_FIELDS.items():
            fields[f"{person}.{key}"] = [prefix + element]
    # The dwelling registered so far: the applicant's, or a co-mover's own.
    for owner, prefix in (("", _APPLICANT), ("partner.", _PARTNER), ("children[].", _CHILD)):
        for key, element in _ADDRESS_FIELDS.items():
            fields[f"{owner}previous_dwelling.{key}"] = [prefix + _DWELLING + element]
        fields[f"{owner}previous_dwelling.ags"] = [prefix + _DWELLING + "gemeindeschluessel/code"]
        fields[f"{owner}previous_dwelling.moved_in"] = [prefix + "wohnung/datumDesBeziehens/datum"]
    return {f"payload.{k}": v for k, v in fields.items()}


_XML_CHARS = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_XSD_SPACE = re.compile("[\t\n\r]")
_XSD_SPACES = re.compile("[ \t\n\r]+")
_FACETS_UNDERSTOOD = {"pattern", "maxLength", "minLength", "length", "enumeration", "whiteSpace"}


def compile_type(simple_type: Any) -> Check | None:
    """A check for one XSD simple type (an ``xmlschema`` atomic type), or ``None`` when the
    type has a facet or primitive this module does not compile."""
    from xmlschema.validators import XsdAtomicBuiltin

    patterns: list[re.Pattern[str]] = []
    enumeration: set[str] | None = None
    low, high = 0, None
    step = simple_type
    while step is not None and not isinstance(step, XsdAtomicBuiltin):
        facets = {k.split("}")[-1] for k in step.facets if k is not None}
        if not facets <= _FACETS_UNDERSTOOD:
            return None
        if step.patterns is not None:
            patterns += list(step.patterns.patterns)
        if enumeration is None and step.enumeration is not None:
            enumeration = {str(e) for e in step.enumeration}
        low = max(low, step.min_length or 0)
        if step.max_length is not None:
            high = step.max_length if high is None else min(high, step.max_length)
        step = step.base_type
    if not isinstance(step, XsdAtomicBuiltin):
        return None
    primitive = simple_type.primitive_type.local_name
    builtin_facets = {k.split("}")[-1] for k in step.facets if k is not None}
    if primitive not in {"string", "date", "base64Binary"} or builtin_facets - {"whiteSpace"}:
        return None  # (a builtin's own validator, key None, is what _is_date/_is_base64 do)
    space = simple_type.white_space

    def check(value: str) -> bool:
        if not _XML_CHARS.fullmatch(value):
            return False
        if space == "replace":
            value = _XSD_SPACE.sub(" ", value)
        elif space == "collapse":
            value = _XSD_SPACES.sub(" ", value).strip(" ")
        if len(value) < low or (high is not None and len(value) > high):
            return False
        if enumeration is not None and value not in enumeration:
            return False
        if not all(p.match(value) for p in patterns):
            return False
        if primitive == "date":
            return _is_date(value)
        if primitive == "base64Binary":
            return _is_base64(value)
        return True

    return check


def _is_date(value: str) -> bool:
    if not _DATE.fullmatch(value):  # no time zone, no years beyond 9999: the full check decides
        return False
    try:
        return date.fromisoformat(value).year >= 1
    except ValueError:
        return False


def _is_base64(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(value) % 4 == 0


_SHAPE = object()  # trie leaf: the value is part of the shape, not checked
# Verdicts remembered per datatype: codes, dates and places repeat, names rarely. Two
# generations of at most _MEMO values each: when the young one is full it becomes the old one
# and the old one is dropped, so what keeps coming back stays (each hit moves it to the young
# generation) and no value, a name say, is held longer than two generations. Long values (a
# Wohnungsgeberbestätigung's base64, up to 1.4 MB) are checked each time, never held.
_MEMO = 4096
_MEMO_LONGEST = 256


def _memoized(check: Check) -> Check:
    generations: list[dict[str, bool]] = [{}, {}]  # young, old

    def memo(value: str) -> bool:
        if len(value) > _MEMO_LONGEST:
            return check(value)
        young, old = generations
        verdict = young.get(value)
        if verdict is not None:
            return verdict
        verdict = old.get(value)
        if verdict is None:
            verdict = check(value)
        if len(young) >= _MEMO:
            generations[:] = [{}, young]
            young = generations[0]
        young[value] = verdict
        return verdict

    return memo


def _every(checks: list[Check]) -> Check:
    return lambda value: all(check(value) for check in checks)


def _trie(fields: dict[str, Check]) -> dict[str, Any]:
    """``payload.a.b[]`` → nested dicts; a list is ``("[]", node)``; a leaf its check."""
    root: dict[str, Any] = {}
    for path in [*fields, *_SHAPE_VALUES]:
        steps = path.split(".")[1:]
        leaf = fields.get(path, _SHAPE)
        node = root
        for i, step in enumerate(steps):
            last = i == len(steps) - 1
            listed = step.endswith("[]")
            key = step.removesuffix("[]")
            if listed:
                inner = node.setdefault(key, ("[]", leaf if last else {}))
                node = inner[1]
            elif last:
                node[key] = leaf
            else:
                node = node.setdefault(key, {})
    return root


class AnmeldungValues:
    """Per-element checks for the 1704 and the shapes already built and found valid."""

    def __init__(self, checks: dict[str, Check]):
        self._applicant = [(k, checks[f"applicant.{k}"]) for k in _APPLICANT_FIELDS]
        self._payload = _trie({k: v for k, v in checks.items() if k.startswith("payload.")})
        self._street_line = checks["(street line)"]
        self._ident_postal_code = checks["(identification postal code)"]
        self._shapes: set[tuple[Any, ...]] = set()

    def shape_and_verdict(self, record: hub.Record) -> tuple[tuple[Any, ...], bool]:
        """The record's shape, and whether every value it carries passes its element's check.
        ``False`` (and a partial shape) as soon as one does not or a field is not known here."""
        shape: list[Any] = []
        applicant = record.applicant
        if applicant is None:
            return (), False
        for name, check in self._applicant:
            value = getattr(applicant, name)
            if isinstance(value, date):
                value = value.isoformat()
            shape.append(bool(value))
            if value and not (isinstance(value, str) and check(value)):
                return tuple(shape), False
        payload = record.payload
        if not self._walk(payload, self._payload, shape):
            return tuple(shape), False
        # The identification's street line and postal code, derived from a dwelling.
        dwelling = payload.get("previous_dwelling") or payload.get("new_dwelling")
        if not isinstance(dwelling, dict):
            return tuple(shape), False
        code = dwelling.get("postal_code")
        ok = isinstance(code, str) and self._ident_postal_code(code)
        ok = ok and self._street_line(_street_line(dwelling))
        return tuple(shape), ok

    def _walk(self, value: Any, node: Any, shape: list[Any]) -> bool:
        if type(node) is dict:
            if type(value) is not dict:
                return False
            for key, item in value.items():
                child = node.get(key)
                if child is None:
                    return False
                shape.append(key)
                if not self._walk(item, child, shape):
                    return False
            shape.append(None)  # end of this object
            return True
        if type(node) is tuple:
            if type(value) is not list:
                return False
            shape.append(len(value))
            return all(self._walk(item, node[1], shape) for item in value)
        if node is _SHAPE:
            shape.append(value if type(value) in (str, bool) else object())
            return type(value) in (str, bool)
        shape.append(bool(value))
        return type(value) is str and node(value)

    def known(self, shape: tuple[Any, ...]) -> bool:
        return shape in self._shapes

    def remember(self, shape: tuple[Any, ...]) -> None:
        """A record of this shape was built and validated: the structure is valid."""
        if len(self._shapes) < MAX_SHAPES:
            self._shapes.add(shape)


def _element(root: Any, path: str) -> Any:
    decl = root
    for step in path.split("/"):
        for child in decl.type.content.iter_elements():
            if child.local_name == step:
                decl = child
                break
        else:
            raise LookupError(f"{path}: no element {step!r}")
    return decl


def _simple_type(decl: Any) -> Any:
    kind = decl.type
    return kind if kind.is_simple() else kind.content


def anmeldung_element(directory: Path) -> Any:
    """The 1704's element declaration, read by ``xmlschema`` from the schema set in
    ``directory`` (local files only, URLs through its catalog)."""
    import xmlschema

    mapping = {url: str(path) for url, path in schemas.CatalogResolver(directory).mapping.items()}
    xsd = xmlschema.XMLSchema(
        str(directory / schemas.XMELD_ENTRY), uri_mapper=mapping, allow="local"
    )
    return xsd.elements["onlinedienste.anmeldung.meldeschein.1704"]


def element_type(root: Any, path: str) -> Any:
    """The simple type of the element at ``path`` (``a/b/c``) under ``root``."""
    return _simple_type(_element(root, path))


def build(directory: Path) -> AnmeldungValues:
    """Read the datatypes from the schema set in ``directory``; raises ``LookupError`` when an
    element or datatype cannot be compiled (:func:`load` then turns the fast path off)."""
    root = anmeldung_element(directory)
    fields = {f"applicant.{k}": v for k, v in _APPLICANT_FIELDS.items()}
    fields |= _payload_fields()
    fields["(street line)"] = [_STREET_LINE]
    fields["(identification postal code)"] = [_IDENT_POSTAL_CODE]
    per_type: dict[int, Check] = {}  # one memoized check per datatype
    checks: dict[str, Check] = {}
    for field, elements in fields.items():
        found: list[Check] = []
        for path in elements:
            simple = element_type(root, path)
            if id(simple) not in per_type:
                check = compile_type(simple)
                if check is None:
                    raise LookupError(f"{path}: datatype not compiled")
                per_type[id(simple)] = _memoized(check)
            if per_type[id(simple)] not in found:
                found.append(per_type[id(simple)])
        checks[field] = found[0] if len(found) == 1 else _every(found)
    return AnmeldungValues(checks)


_ready: dict[Path, AnmeldungValues | None] = {}
_started: set[Path] = set()
_lock = threading.Lock()


def load(directory: Path) -> AnmeldungValues | None:
    """The checks for ``directory``, read once per process (about a second); ``None``, with a
    warning, when they cannot be: the full check then runs for every record."""
    with _lock:
        if directory not in _ready:
            try:
                _ready[directory] = build(directory)
            except Exception as exc:  # never let the fast path stop intake: the full check runs
                log.warning("xmeld_fast_check_off", reason=f"{type(exc).__name__}: {exc}")
                _ready[directory] = None
        return _ready[directory]


def available(directory: Path) -> AnmeldungValues | None:
    """The checks if they are read already; never waits. The first call starts reading them
    in a background thread (until then the intake check builds every message)."""
    if directory in _ready:
        return _ready[directory]
    with _lock:
        if directory not in _started:
            _started.add(directory)
            threading.Thread(
                target=load, args=(directory,), name="hub-xmeld-datatypes", daemon=True
            ).start()
    return None


__all__ = [
    "AnmeldungValues",
    "anmeldung_element",
    "available",
    "build",
    "compile_type",
    "element_type",
    "load",
]
