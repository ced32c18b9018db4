"""What ``hub doctor`` checks, as a list the CLI prints and the console shows: the store,
the secrets the settings reference (never their values), every adapter's own check, and every
plugin's ``check_health``."""

from __future__ import annotations

from typing import Any

import structlog

from hub.core.context import CheckContext
from hub.core.errors import ConfigurationError, HubError

Check = tuple[str, bool, str]


def secret_checks(hub: Any) -> list[Check]:
    """Read every secret a settings model references, so a missing variable or file shows up
    here rather than at the first delivery that needs it."""
    from hub.core.secrets import secrets_in

    found, failed = 0, []
    models = [*hub.registry.validated.items(), ("console", hub.config.console)]
    for table, model in models:
        for path, secret in secrets_in(model, f"{table}."):
            found += 1
            try:
                secret.reveal(path)
            except ConfigurationError as exc:
                failed.append((f"secret {path}", False, str(exc)))
    return failed or [("secrets", True, f"{found} reference(s) resolve")]


def adapter_checks(hub: Any) -> list[Check]:
    try:
        adapters = hub.adapters
    except ConfigurationError as exc:
        return [("adapters", False, str(exc))]
    found: list[Check] = []
    for name, adapter in adapters.items():
        check = getattr(adapter, "check", None)
        if check is None:
            found.append((f"adapter {name}", True, "no check provided"))
            continue
        ctx = CheckContext(
            hub=hub,
            adapter=name,
            settings=hub.config.adapters[name],
            http=hub.http_for(name),
            log=structlog.get_logger("hub.doctor"),
        )
        try:
            found.append((f"adapter {name}", True, check(ctx) or "ok"))
        except HubError as exc:
            found.append((f"adapter {name}", False, str(exc)))
        except Exception as exc:
            found.append((f"adapter {name}", False, f"{type(exc).__name__}"))
    return found


def run_checks(hub: Any) -> list[Check]:
    """Every check after the store's (the hub is started)."""
    return [*secret_checks(hub), *adapter_checks(hub), *hub.plugins.health(hub)]


__all__ = ["Check", "adapter_checks", "run_checks", "secret_checks"]
