"""Reading catalogue data: LeiKa CSV (two layouts), the Destatis ARS code list, XZuFi messages.

Every reader validates as it goes and raises :class:`ImportProblem` naming the line and the rule;
nothing is written until the whole file has been read (the caller replaces atomically).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from hub import XmlRejected
from hub import parse_xml as safe_parse
from hub_ozg_catalog.keys import ARS_RE, LEIKA_RE, Ars

MAX_FILE_BYTES = 200 * 1024 * 1024

KDN_COLUMNS = [
    "leika_key",
    "name",
    "typisierung",
    "ozg_id",
    "ozg_leistung",
    "lebenslage",
    "themenfeld",
    "rechtsgrundlage",
]
OFFICIAL_COLUMNS = [
    "Schluessel",
    "Bezeichnung",
    "Bezeichnung2",
    "Leistungsgruppierung",
    "Leistungskennung",
    "Verrichtung",
    "Verrichtungsdetail",
    "Typ",
    "Synonyme",
    "Besondere Merkmale",
    "Veröffentlichungsdatum",
]
_OFFICIAL_REQUIRED = ["Schluessel", "Bezeichnung", "Typ"]


class ImportProblem(ValueError):
    """A file that cannot be imported; the message says where and why."""


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImportProblem(f"{path}: cannot read: {exc.strerror}") from exc
    if size > MAX_FILE_BYTES:
        raise ImportProblem(f"{path}: {size} bytes is over the limit of {MAX_FILE_BYTES}")
    return path.read_bytes()


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) or, as the official LeiKa download is, ISO-8859-1."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("iso-8859-1")


def _typisierung(raw: str) -> str | None:
    parts = [p.strip() for p in raw.replace(";", ",").split(",") if p.strip()]
    return ",".join(parts) or None


def read_leika_csv(path: Path) -> tuple[str, list[dict[str, str | None]]]:
    """Rows of a LeiKa CSV; returns (layout name, rows). Both known layouts are recognised."""
    text = _decode(_read_bytes(path))
    first = text.splitlines()[0] if text else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip() for h in (reader.fieldnames or [])]
    if all(c in header for c in KDN_COLUMNS[:3]):
        layout, convert = "kdn", _kdn_row
    elif all(c in header for c in _OFFICIAL_REQUIRED):
        layout, convert = "leika", _official_row
    else:
        raise ImportProblem(
            f"{path}: unknown CSV layout (header {header[:6]}…). Expected the columns "
            f"{','.join(KDN_COLUMNS)} or the official LeiKa download "
            f"{';'.join(OFFICIAL_COLUMNS)}"
        )
    rows: dict[str, dict[str, str | None]] = {}
    for line, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        converted = convert(row)
        key = converted["leika_key"] or ""
        if not LEIKA_RE.match(key):
            if not key or not key[:1].isdigit():
                continue  # "nicht im LeiKa" and similar placeholders carry no key
            raise ImportProblem(f"{path}:{line}: Schluessel {key!r} is not a 14-digit 99… key")
        if not converted["name"]:
            raise ImportProblem(f"{path}:{line}: service {key} has no name")
        rows[key] = converted
    if not rows:
        raise ImportProblem(f"{path}: no services found")
    return layout, list(rows.values())


def _kdn_row(row: dict[str, str]) -> dict[str, str | None]:
    return {
        "leika_key": row.get("leika_key"),
        "name": row.get("name"),
        "name2": None,
        "typisierung": _typisierung(row.get("typisierung", "")),
        "ozg_id": row.get("ozg_id") or None,
        "ozg_leistung": row.get("ozg_leistung") or None,
        "lebenslage": row.get("lebenslage") or None,
        "themenfeld": row.get("themenfeld") or None,
        "rechtsgrundlage": row.get("rechtsgrundlage") or None,
        "synonyms": None,
    }


def _official_row(row: dict[str, str]) -> dict[str, str | None]:
    return {
        "leika_key": row.get("Schluessel"),
        "name": row.get("Bezeichnung"),
        "name2": row.get("Bezeichnung2") or None,
        "typisierung": _typisierung(row.get("Typ", "")),
        "ozg_id": None,
        "ozg_leistung": None,
        "lebenslage": None,
        "themenfeld": None,
        "rechtsgrundlage": None,
        "synonyms": "|".join(s.strip() for s in row.get("Synonyme", "").split("|") if s.strip())
        or None,
    }


def read_regions(path: Path) -> list[dict[str, str | None]]:
    """The Destatis Regionalschlüssel code list in XRepository JSON form."""
    try:
        doc = json.loads(_read_bytes(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ImportProblem(f"{path}: not JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("daten"), list):
        raise ImportProblem(f"{path}: expected an XRepository code list with 'spalten' and 'daten'")
    names = [str(c.get("spaltennameTechnisch", "")).upper() for c in doc.get("spalten", [])]
    try:
        i_key, i_name = names.index("SCHLUESSEL"), names.index("BEZEICHNUNG")
    except ValueError:
        raise ImportProblem(f"{path}: columns SCHLUESSEL and Bezeichnung are required") from None
    i_hint = names.index("HINWEIS") if "HINWEIS" in names else None
    out = []
    for n, row in enumerate(doc["daten"]):
        ars = str(row[i_key]) if isinstance(row, list) and len(row) > i_key else ""
        if not ARS_RE.match(ars):
            raise ImportProblem(f"{path}: daten[{n}]: {ars!r} is not a 12-digit ARS")
        out.append(
            {
                "ars": ars,
                "ags": Ars(ars).ags,
                "name": str(row[i_name]),
                "hint": row[i_hint] if i_hint is not None else None,
            }
        )
    if not out:
        raise ImportProblem(f"{path}: the code list is empty")
    return out


# --- XZuFi ------------------------------------------------------------------------------------

XZUFI_NAMESPACES = {
    "http://xoev.de/schemata/xzufi/2_2_0": "2.2",
    "http://xoev.de/schemata/xzufi/2_3_0": "2.3",
    "http://xoev.de/schemata/xzufi/2_3_1": "2.3",
}


def parse_xml(data: bytes, where: str) -> Any:
    try:
        return safe_parse(data, max_bytes=MAX_FILE_BYTES, what=where, keep_comments=False)
    except XmlRejected as exc:
        message = (
            "DTDs and entity declarations are not accepted"
            if exc.code == "dtd_forbidden"
            else "not well-formed XML"
            if exc.code == "malformed_xml"
            else str(exc)
        )
        raise ImportProblem(f"{where}: {message}") from exc


@dataclass(frozen=True)
class Zustaendigkeit:
    leika_key: str
    ars: str
    role: str
    oe_id: str
    name: str
    detail: dict[str, Any]


def _text(el: Any, path: str, ns: dict[str, str]) -> str | None:
    found = el.find(path, ns)
    return found.text.strip() if found is not None and found.text else None


def read_xzufi(path: Path) -> tuple[str, list[Zustaendigkeit]]:
    """Responsibilities (service × area × role → organisation unit) from XZuFi ``schreibe``
    messages: ``leistung`` gives the LeiKa key of each service id, ``organisationseinheit`` its
    name, address and ``zustaendigkeit`` entries."""
    root = parse_xml(_read_bytes(path), str(path))
    ns_uri = etree.QName(root).namespace
    if ns_uri not in XZUFI_NAMESPACES:
        raise ImportProblem(f"{path}: not an XZuFi 2.2/2.3 message (namespace {ns_uri!r})")
    ns = {"x": ns_uri}
    version = XZUFI_NAMESPACES[ns_uri]
    leika_by_id: dict[str, str] = {}
    for leistung in root.iterfind(".//x:schreibe/x:leistung", ns):
        lid = _text(leistung, "x:id", ns)
        key = _text(leistung, "x:referenzLeiKa/x:code", ns) or _text(
            leistung, "x:referenzLeiKa", ns
        )
        if lid and key:
            if not LEIKA_RE.match(key):
                raise ImportProblem(f"{path}: leistung {lid}: referenzLeiKa {key!r} is not a key")
            leika_by_id[lid] = key
    found: list[Zustaendigkeit] = []
    for oe in root.iterfind(".//x:schreibe/x:organisationseinheit", ns):
        oe_id = _text(oe, "x:id", ns)
        name = _text(oe, "x:name/x:name", ns) or _text(oe, "x:name", ns)
        if not oe_id or not name:
            raise ImportProblem(f"{path}: an organisationseinheit lacks id or name")
        detail = _oe_detail(oe, ns)
        for z in oe.iterfind("x:zustaendigkeit", ns):
            lid = _text(z, "x:leistungID", ns)
            role = _text(z, "x:rolle/x:code", ns) or "01"
            key = leika_by_id.get(lid or "") or (lid if lid and LEIKA_RE.match(lid) else None)
            if key is None:
                raise ImportProblem(
                    f"{path}: zustaendigkeit of {oe_id} names leistung {lid!r}, which the message "
                    "does not define"
                )
            areas = [g.text.strip() for g in z.iterfind("x:gebietID", ns) if g.text]
            if not areas:
                raise ImportProblem(f"{path}: zustaendigkeit of {oe_id} has no gebietID")
            for area in areas:
                ars = area.rsplit(":", 1)[-1]
                if not ARS_RE.match(ars):
                    raise ImportProblem(f"{path}: gebietID {area!r} is not a 12-digit ARS")
                found.append(Zustaendigkeit(key, ars, role, oe_id, name, detail))
    if not found:
        raise ImportProblem(f"{path}: no zustaendigkeit found in any schreibe block")
    return version, found


def _oe_detail(oe: Any, ns: dict[str, str]) -> dict[str, Any]:
    addr = oe.find("x:anschrift", ns)
    address = None
    if addr is not None:
        address = {
            "street": " ".join(
                filter(None, (_text(addr, "x:strasse", ns), _text(addr, "x:hausnummer", ns)))
            )
            or None,
            "postal_code": _text(addr, "x:postleitzahl", ns),
            "city": _text(addr, "x:ort", ns),
        }
    contacts: dict[str, str] = {}
    for k in oe.iterfind("x:kommunikation", ns):
        kind = _text(k, "x:kanal/x:code", ns)
        value = _text(k, "x:kennung", ns)
        label = {"01": "phone", "02": "fax", "03": "email", "04": "url"}.get(kind or "")
        if label and value and label not in contacts:
            contacts[label] = value
    url = _text(oe, "x:internetadresse/x:uri", ns)
    if url:
        contacts.setdefault("url", url)
    return {"address": address, **contacts}


def iter_chunks(items: list[Any], size: int = 1000) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
