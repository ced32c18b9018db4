"""The official XMeld 25.11a schema set, compiled offline through its XML catalog.

One setting names the directory (``HUB_XOEV_DIR``, else ``[plugins.xmeld] schema_dir``, else
``../shared/xoev`` beside the repository). Every ``schemaLocation`` resolves through the
directory's ``catalog.xml`` or relative to the including file; anything else is refused, so the
hub never fetches a schema from the network. The compiled schema is cached per process.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from hub import XmlRejected, parse_xml

ENV = "HUB_XOEV_DIR"
XMELD_NS = "http://www.osci.de/xmeld2511a"
XMELD_ENTRY = "www.osci.de/xmeld2511a/xinneres.xmeld.xsd"
RUECKWEISUNG_URL = "http://www.osci.de/xinneres/rueckweisung/6/xinneres-rueckweisung.xsd"
RUECKWEISUNG_NS = "http://www.osci.de/xinneres/rueckweisung/6"
CATALOG_NS = "urn:oasis:names:tc:entity:xmlns:xml:catalog"
MAX_MESSAGE_BYTES = 20 * 1024 * 1024


class SchemaUnavailable(RuntimeError):
    """The schema directory is missing or incomplete; the message says what to set."""


def default_dir(configured: str | None = None) -> Path:
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    if configured:
        return Path(configured)
    if os.environ.get("HUB_SHARED_DIR"):  # the one setting the tests document for shared data
        return Path(os.environ["HUB_SHARED_DIR"]) / "xoev"
    repo = Path(__file__).resolve().parents[3]
    beside = repo.parent / "shared" / "xoev"
    return beside if beside.is_dir() else Path("../shared/xoev")


class CatalogResolver(etree.Resolver):
    """Resolves schema URLs through the OASIS catalog; refuses every other remote URL."""

    def __init__(self, directory: Path):
        super().__init__()
        self.mapping: dict[str, Path] = {}
        catalog = directory / "catalog.xml"
        root = parse_xml(catalog.read_bytes(), max_bytes=4 * 1024 * 1024, what="catalog")
        for entry in root:
            if not isinstance(entry.tag, str):
                continue
            local = etree.QName(entry).localname
            key = (
                entry.get("name")
                if local == "uri"
                else entry.get("systemId")
                if local == "system"
                else None
            )
            if key and entry.get("uri"):
                self.mapping[key] = (directory / entry.get("uri")).resolve()

    def resolve(self, url: str, pubid: str | None, context: Any) -> Any:
        if url in self.mapping:
            return self.resolve_filename(str(self.mapping[url]), context)
        if url.startswith(("http://", "https://", "ftp://")):
            raise SchemaUnavailable(f"{url} is not in the schema catalog (no network access)")
        return None  # a local file (relative include): libxml2 reads it from disk


_PATTERN_FAILURE = re.compile(r"\[facet 'pattern'\] The value '(.*?)' is not accepted")


@dataclass(frozen=True)
class Issue:
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.path}: {self.message}"

    @property
    def element(self) -> str:
        """The last two steps of the path without prefixes, e.g. ``vornamen/name``."""
        steps = [s.split(":")[-1].split("[")[0] for s in self.path.split("/") if s]
        return "/".join(steps[-2:])

    @property
    def brief(self) -> str:
        """The message without the datatype's pattern (DIN 91379's runs to kilobytes)."""
        found = _PATTERN_FAILURE.search(self.message)
        if found:
            return (
                f"the value '{found.group(1)}' is not allowed by the standard's datatype "
                "(DIN 91379 characters; for some fields digits or a fixed pattern)"
            )
        return self.message


class XMeldSchema:
    """XMeld 25.11a plus the XInneres Rückweisung (0010): every message the hub exchanges."""

    def __init__(self, directory: Path):
        entry = directory / XMELD_ENTRY
        if not entry.is_file():
            raise SchemaUnavailable(
                f"XMeld schemas not found in {directory}; set {ENV} to the folder with "
                f"catalog.xml and {XMELD_ENTRY}"
            )
        resolver = CatalogResolver(directory)
        parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
        parser.resolvers.add(resolver)
        wrapper = (
            '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
            f'<xs:import namespace="{XMELD_NS}" schemaLocation="{entry.resolve().as_uri()}"/>'
            f'<xs:import namespace="{RUECKWEISUNG_NS}" schemaLocation="{RUECKWEISUNG_URL}"/>'
            "</xs:schema>"
        )
        doc = etree.fromstring(wrapper.encode(), parser, base_url=str(directory / "hub.xsd"))
        self.schema = etree.XMLSchema(doc)
        self.directory = directory

    def issues(self, doc: Any) -> list[Issue]:
        if self.schema.validate(doc):
            return []
        return [Issue(e.line, e.path or "/", e.message) for e in self.schema.error_log]

    def validate_bytes(self, data: bytes, what: str = "message") -> tuple[Any, list[Issue]]:
        """Parse safely (size limit, no DTD) and validate; parse errors come back as issues."""
        try:
            root = parse_xml(data, max_bytes=MAX_MESSAGE_BYTES, what=what, keep_comments=False)
        except XmlRejected as exc:
            return None, [Issue(0, "/", f"{exc} [{exc.code}]")]
        return root, self.issues(root.getroottree())


_cache: dict[Path, XMeldSchema] = {}
_lock = threading.Lock()


def load(directory: Path | None = None) -> XMeldSchema:
    """The compiled schema for ``directory`` (default: :func:`default_dir`), once per process."""
    key = (directory or default_dir()).resolve()
    with _lock:
        if key not in _cache:
            _cache[key] = XMeldSchema(key)
        return _cache[key]
