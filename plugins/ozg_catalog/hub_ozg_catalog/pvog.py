"""Client for the PVOG Suchdienst (Portalverbund Online-Gateway), over the hub's httpx client.

Service by LeiKa key and ARS → service description id (lbId) → organisation units with role
``01`` (Zuständige Stelle) → unit detail with address and contact. Timeouts, 5xx and 429 are
retried with backoff (``Retry-After`` honoured, capped); what still fails is
:class:`PvogUnavailable`, which callers answer from their cache.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import httpx

DEFAULT_URL = "https://pvog.fitko.net/suchdienst/api"
ROLE_ZUSTAENDIG = "01"


class PvogError(Exception):
    """PVOG answered, but not usably (4xx, not JSON, unexpected shape)."""


class PvogUnavailable(PvogError):
    """PVOG could not be reached or kept failing (timeouts, 5xx, 429)."""


class PvogClient:
    def __init__(
        self,
        http: httpx.Client,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 0.5,
        max_wait: float = 5.0,
        user_agent: str = "hub-ozg-catalog/0.1",
    ):
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.headers = {"User-Agent": user_agent, "Accept": "application/json"}

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        last = "no attempt"
        wait = 0.0
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(self.max_wait, wait))
            wait = self.backoff * (2**attempt)
            try:
                response = self.http.get(
                    f"{self.base_url}{path}",
                    params=params,
                    headers=self.headers,
                    timeout=self.timeout,
                )
            except httpx.TimeoutException:
                last = "timeout"
                continue
            except httpx.TransportError as exc:
                last = type(exc).__name__
                continue
            if response.status_code == 429 or response.status_code >= 500:
                last = f"HTTP {response.status_code}"
                after = response.headers.get("Retry-After", "")
                if after.isdigit():
                    wait = max(wait, float(after))
                continue
            if response.status_code == 404:
                return None
            if response.status_code >= 400:
                raise PvogError(f"PVOG answered {response.status_code} for {path}")
            try:
                return response.json()
            except ValueError as exc:
                raise PvogError(f"PVOG sent no JSON for {path}") from exc
        raise PvogUnavailable(f"PVOG unavailable ({last}) for {path}")

    def service_id(self, leika_key: str, ars: str, valid: date | None = None) -> str | None:
        """The service description id (lbId) for a LeiKa key at a place, if PVOG has one."""
        data = self._get(
            "/v3/servicedescriptions/leikaid",
            {"leikaIds": leika_key, "ars": ars, "validDate": (valid or date.today()).isoformat()},
        )
        content = (data or {}).get("content") if isinstance(data, dict) else None
        if content is None:
            return None
        if not isinstance(content, list):
            raise PvogError("servicedescriptions/leikaid: 'content' is not a list")
        for entry in content:
            if isinstance(entry, dict) and entry.get("id"):
                return str(entry["id"])
        return None

    def responsible_units(self, ars: str, lb_id: str) -> list[dict[str, Any]]:
        """Organisation units with role 01 (Zuständige Stelle) for a service at a place."""
        data = self._get("/v2/organisationunits/titles", {"ars": ars, "lbId": lb_id}) or []
        if not isinstance(data, list):
            raise PvogError("organisationunits/titles: expected a list")
        return [
            u
            for u in data
            if isinstance(u, dict)
            and (u.get("role") or {}).get("code") == ROLE_ZUSTAENDIG
            and u.get("id")
        ]

    def unit_detail(self, oe_id: str) -> dict[str, Any] | None:
        data = self._get("/v5/organisationunits/detail", {"q": oe_id})
        if data is not None and not isinstance(data, dict):
            raise PvogError("organisationunits/detail: expected an object")
        return data


def authority_from_detail(
    oe_id: str, title: str | None, detail: dict[str, Any] | None
) -> dict[str, Any]:
    """PVOG's unit detail in the hub's authority shape."""
    detail = detail or {}
    location = detail.get("location") or {}
    addresses = [a for a in location.get("addresses") or [] if isinstance(a, dict)]
    address = next(
        (a for a in addresses if a.get("type") == "Hausanschrift"),
        addresses[0] if addresses else None,
    )
    comms = {
        str(c.get("name", "")).lower(): c.get("value")
        for c in location.get("communications") or []
        if isinstance(c, dict)
    }
    urls = [
        w.get("uri")
        for w in detail.get("internetAddresses") or []
        if isinstance(w, dict) and w.get("uri")
    ]
    return {
        "id": oe_id,
        "name": detail.get("title") or detail.get("name") or title or oe_id,
        "role": ROLE_ZUSTAENDIG,
        "address": {
            "street": address.get("street"),
            "postal_code": address.get("zip"),
            "city": address.get("city"),
        }
        if address
        else None,
        "phone": comms.get("telefon"),
        "email": comms.get("e-mail"),
        "url": urls[0] if urls else None,
    }
