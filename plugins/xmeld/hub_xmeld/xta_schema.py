"""The XTA 2 (Version 3, schema 2.1.1) WSDL and schemas from the schema folder, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lxml import etree

XTA_DIR = "xoev.de/transport/xta/211"
XTA_NS = "http://xoev.de/transport/xta/211"
OSCIMETA_NS = "http://www.osci.eu/ws/2014/10/transport"
OSCI_NS = "http://www.osci.eu/ws/2008/05/transport"
WSA_NS = "http://www.w3.org/2005/08/addressing"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"

_MSGBOX = "http://www.osci.eu/ws/2008/05/transport/urn/messageTypes/"
ACTIONS = {
    "http://www.xta.de/XTA/CheckAccountActive": "checkAccountActive",
    "http://www.xta.de/XTA/CreateMessageID": "createMessageId",
    "http://www.xta.de/XTA/SendMessage": "sendMessage",
    "http://www.xta.de/XTA/GetTransportReport": "getTransportReport",
    _MSGBOX + "MsgBoxStatusListRequest": "getStatusList",
    _MSGBOX + "MsgBoxFetchRequest": "getMessage",
    _MSGBOX + "MsgBoxCloseRequest": "close",
}


def wsdl_path(schema_dir: Path) -> Path:
    path = schema_dir / XTA_DIR / "XTA.wsdl"
    if not path.is_file():
        raise FileNotFoundError(f"XTA 2 WSDL not found at {path}")
    return path


def compile_schema(schema_dir: Path) -> etree.XMLSchema:
    """One schema over every element a gateway receives or sends (xta, oscimeta, osci, wsa)."""
    base = (schema_dir / XTA_DIR).resolve()
    imports = {
        XTA_NS: "XTA-Webservice-Globale-Elemente.xsd",
        OSCIMETA_NS: "OSCI_MessageMetaData_V2.02.xsd",
        OSCI_NS: "OSCI2_02.xsd",
        WSA_NS: "ws-addr.xsd",
    }
    body = "".join(
        f'<xs:import namespace="{ns}" schemaLocation="{(base / f).as_uri()}"/>'
        for ns, f in imports.items()
    )
    exceptions = (base / "XTA-Webservice-Exceptions.xsd").as_uri()
    wrapper = (
        f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">{body}'
        f'<xs:import namespace="{XTA_NS}" schemaLocation="{exceptions}"/></xs:schema>'
    )
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    return etree.XMLSchema(
        etree.fromstring(wrapper.encode(), parser, base_url=str(base / "hub.xsd"))
    )


def problems(schema: etree.XMLSchema, element: Any) -> list[str]:
    """Validate one global element (a SOAP header or body part) on its own."""
    import copy

    doc = etree.ElementTree(copy.deepcopy(element))
    if schema.validate(doc):
        return []
    return [f"{e.path}: {e.message}" for e in schema.error_log]
