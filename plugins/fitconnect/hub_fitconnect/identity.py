"""The applicant's identification, from the identification reports a submission carries.

Governikus' IdentificationReport (2.0.0 schema: ``levelOfAssurance``, ``trustFramework``,
``idStatus``, as the payload of a JWS) travels in metadata 1.x as
``authenticationInformation[type=identificationReport]`` and in 2.x as a ``dataSets`` entry with
that schema. The level of assurance becomes the record's trust level. The report's own signature
is not checked (the identity provider's key is not known here); the report counts because it
arrives inside the online service's end-to-end encrypted, hash-checked submission.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

REPORT_SCHEMA = re.compile(
    r"^https://raw\.githubusercontent\.com/Governikus/IdentificationReport/[0-9.]+/schema/"
    r"identification-report\.json$"
)
LEVELS = {
    "http://eidas.europa.eu/LoA/low": "basis",
    "http://eidas.europa.eu/LoA/substantial": "substantiell",
    "http://eidas.europa.eu/LoA/high": "hoch",
    "http://eidas.europa.eu/NotNotified/LoA/low": "basis",
    "http://eidas.europa.eu/NotNotified/LoA/substantial": "substantiell",
    "http://eidas.europa.eu/NotNotified/LoA/high": "hoch",
    "http://bsi.bund.de/eID/LoA/normal": "basis",
    "http://bsi.bund.de/eID/LoA/substantiell": "substantiell",
    "http://bsi.bund.de/eID/LoA/hoch": "hoch",
}


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _report(content: Any, jose: bool) -> dict[str, Any] | None:
    try:
        if isinstance(content, dict):
            return content
        text = str(content)
        if jose or text.count(".") == 2:  # a JWS: the report is its payload
            return json.loads(_b64(text.split(".")[1]))
        if text.lstrip().startswith("{"):
            return json.loads(text)
        return json.loads(_b64(text))
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


def reports(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for item in metadata.get("authenticationInformation") or []:  # metadata 1.x
        if item.get("type") == "identificationReport":
            found.append(_report(item.get("content"), jose=False))
    for item in metadata.get("dataSets") or []:  # metadata 2.x
        schema = item.get("schema") or {}
        if REPORT_SCHEMA.match(str(schema.get("schemaUri", ""))):
            found.append(_report(item.get("content"), schema.get("mimeType") == "application/jose"))
    return [r for r in found if isinstance(r, dict)]


def identity(metadata: dict[str, Any]) -> dict[str, str] | None:
    """``{method, trust_level}`` of the first successful report with a known level, or None."""
    for report in reports(metadata):
        level = LEVELS.get(str(report.get("levelOfAssurance")))
        if level is None or report.get("idStatus", "success") != "success":
            continue
        framework = str(report.get("trustFramework", "")).lower()
        method = framework if framework in ("eid", "eidas") else "identification_report"
        return {"method": method, "trust_level": level}
    return None


__all__ = ["LEVELS", "identity", "reports"]
