"""The office's words for a code: the names the standard's code lists give, read from the
code types in the official schemas (``xs:enumeration``/``xs:appinfo/name``), once per process."""

from __future__ import annotations

import threading
from pathlib import Path

from lxml import etree

XS = "{http://www.w3.org/2001/XMLSchema}"
FILES = (
    "www.osci.de/xmeld2511a/xmeld-codes.xsd",
    "www.osci.de/xinneres/rueckweisung/6/xinneres-rueckweisung.xsd",
)

_tables: dict[Path, dict[str, dict[str, str]]] = {}
_lock = threading.Lock()


def _load(directory: Path) -> dict[str, dict[str, str]]:
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    tables: dict[str, dict[str, str]] = {}
    for name in FILES:
        path = directory / name
        if not path.is_file():
            continue
        for code_type in etree.parse(str(path), parser).iter(f"{XS}complexType"):
            names = {
                e.get("value"): (e.findtext(f"{XS}annotation/{XS}appinfo/name") or "").strip()
                for e in code_type.iter(f"{XS}enumeration")
            }
            if names:
                tables[code_type.get("name")] = names
    return tables


def name(directory: Path, code_type: str, code: str) -> str:
    """The code list's name for ``code`` (``Code.Anmeldung.Status``, ``01`` → its sentence);
    the code itself when the list does not name it."""
    key = directory.resolve()
    with _lock:
        if key not in _tables:
            _tables[key] = _load(key)
        table = _tables[key]
    return table.get(code_type, {}).get(code) or f"code {code}"


__all__ = ["name"]
