"""The one way the hub and its plugins parse XML from outside: size-limited, no DTDs, no
entities, no network. Every XML input (SAML, XÖV, XZuFi) goes through :func:`parse_xml`."""

from __future__ import annotations

from typing import Any

from lxml import etree


class XmlRejected(ValueError):
    """The XML was refused; ``code`` says why (too_large, dtd_forbidden, malformed_xml)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def parser(*, keep_comments: bool = True) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=not keep_comments,
        remove_pis=True,
    )


def parse_xml(
    data: bytes, *, max_bytes: int, what: str = "document", keep_comments: bool = True
) -> Any:
    """Parse ``data`` or raise :class:`XmlRejected`. Size is checked before parsing, and any
    DTD or entity declaration is refused outright (no billion laughs, no XXE), whatever the
    document's encoding: the parser neither loads nor expands them, and a document that
    declared one is refused after decoding (UTF-16 or UTF-32 hide it from a byte search)."""
    if len(data) > max_bytes:
        raise XmlRejected("too_large", f"the {what} is larger than {max_bytes} bytes")
    dtd = XmlRejected("dtd_forbidden", f"the {what} contains a DTD or entity declaration")
    # XML keywords are case-sensitive: only these exact spellings declare a DTD or entity.
    # The byte search is the cheap path for UTF-8 and ASCII documents.
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise dtd
    try:
        root = etree.fromstring(data, parser=parser(keep_comments=keep_comments))
    except etree.XMLSyntaxError as exc:
        raise XmlRejected("malformed_xml", f"the {what} is not well-formed XML: {exc}") from exc
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise dtd
    return root
