"""XML handling for SAML: a size limit before parsing, no DTDs, no entities, no network."""

from __future__ import annotations

from typing import Any

from lxml import etree

from hub import XmlRejected, parse_xml
from hub_bundid.errors import SamlError

DEFAULT_MAX_BYTES = 256 * 1024


def parse(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, what: str = "message") -> Any:
    """The core's safe parser, its refusals as SAML errors (comments kept: see text_of)."""
    try:
        return parse_xml(data, max_bytes=max_bytes, what=what)
    except XmlRejected as exc:
        raise SamlError(exc.code, str(exc)) from exc


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
