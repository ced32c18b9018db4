"""The sample year the evaluation tests share: a hub whose store holds it, and the truth."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from hub.testing import config_from_dict

YEAR, SEED, SCALE = 2025, 7, 0.04
READ, ADMIN, ESSEN_ONLY = "sample-reader-token-01", "sample-admin-token-001", "essen-token-000001"
MIN_CELL = 5


def config(url: str, outbox: Path) -> Any:
    def client(name: str, token: str, scopes: list[str], where: list[str]) -> dict[str, Any]:
        return {"name": name, "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
                "scopes": scopes, "municipalities": where}  # fmt: skip

    return config_from_dict(
        {
            "store": {"url": url},
            "delivery": {"workers": 1, "poll_interval": 0.05},
            "clients": [
                client("portal", READ, ["records:write", "records:read"], ["*"]),
                client("office", ADMIN, ["records:read", "admin"], ["05113*"]),
                client("essen", ESSEN_ONLY, ["records:read"], ["05113*"]),
            ],
            "routes": [{"adapters": ["file"]}],
            "adapters": {"file": {"directory": str(outbox)}},
            "attachments": {"directory": str(outbox.parent / "attachments")},
            "plugins": {
                "ozg_catalog": {"pvog_enabled": False},
                "evaluation": {"min_cell": MIN_CELL},
            },
        }
    )
