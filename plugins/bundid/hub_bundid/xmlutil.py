"""XML handling for SAML: a size limit before parsing, no DTDs, no entities, no network."""

from __future__ import annotations

from typing import Any

from lxml import etree

from hub_bundid.errors import SamlError

DEFAULT_MAX_BYTES = 256 * 1024


def parse(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, what: str = "message") -> Any:
    if len(data) > max_bytes:
        raise SamlError("too_large", f"the {what} is larger than {max_bytes} bytes")
    head = data[:8192].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in data.upper():
        raise SamlError("dtd_forbidden", f"the {what} contains a DTD or entity declaration")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise SamlError("malformed_xml", f"the {what} is not well-formed XML") from exc
    return root


def text_of(element: Any) -> str:
    """The text of a simple-valued element. A comment inside a value is refused outright: parsers
    that return only the first text node would read ``a<!---->b`` as ``a`` (the NameID comment
    attack), so no such value is ever interpreted."""
    if element is None:
        return ""
    for child in element.iter():
        if isinstance(child, etree._Comment):
            raise SamlError("comment_in_value", "an XML comment inside a SAML value is refused")
    return "".join(element.itertext())
