"""Hook implementations: the subscriber and event-follower channels, the sender adapter, the
callback endpoint and the ``hub fitconnect`` commands."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import click
import structlog
from fastapi import APIRouter, Depends, Query, Request, Response

import hub
import hub as hub_pkg
from hub import from_rejection, parse_json_object, pass_hub, problem

log = structlog.get_logger("hub.fitconnect")
CALLBACK_WINDOW = 300  # seconds: FIT-Connect callbacks older than this are replays
NEW_SUBMISSIONS = "https://schema.fitko.de/fit-connect/submission-api/callbacks/new-submissions"


def verify_callback(
    secret: str, timestamp: str, body: bytes, mac: str, *, now: float | None = None
) -> bool:
    """HMAC-SHA512 over ``timestamp.body`` with the callback secret, compared in constant time;
    the timestamp must be at most five minutes old (and not from the future)."""
    if not timestamp.isdigit() or not mac:
        return False
    age = (now if now is not None else time.time()) - int(timestamp)
    if age > CALLBACK_WINDOW or age < -30:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha512)
    return hmac.compare_digest(expected.hexdigest(), mac.strip().lower())


@hub.hookimpl
def register_services(register: Any, hub: Any) -> None:
    """Development (``[plugins.fitconnect.simulator]``): the FIT-Connect simulator."""
    raw = hub.config.plugins.get("fitconnect", {}).get("simulator")
    if raw is None:
        return
    from hub import parse_settings
    from hub_fitconnect.sim.embedded import EmbeddedSettings, EmbeddedSimulator

    simulator = EmbeddedSimulator(parse_settings(EmbeddedSettings, raw))
    register("fitconnect_simulator", simulator, dev_only=True)


def _outcomes(
    h: Any, state: str | None = None, limit: int = 100, destinations: set[str] | None = None
) -> list[dict[str, Any]]:
    """Recorded subscriber outcomes, newest first (of ``destinations`` only, when given);
    works without a running subscriber."""
    from sqlalchemy import select

    from hub_fitconnect import tables

    if not h.store.has_table("fitconnect_received"):
        return []
    t = tables.received
    query = select(t).order_by(t.c.at.desc()).limit(limit)
    if state:
        query = query.where(t.c.state == state)
    if destinations is not None:
        query = query.where(t.c.destination_id.in_(destinations))
    with h.store.reading() as conn:
        rows = conn.execute(query).all()
    return [
        {
            "submission_id": r.submission_id,
            "case_id": r.case_id,
            "destination_id": r.destination_id,
            "record_id": r.record_id,
            "state": r.state,
            "reason": r.reason,
            "attempts": r.attempts,
            "at": r.at.isoformat(),
            "next_attempt_at": r.next_attempt_at.isoformat() if r.next_attempt_at else None,
        }
        for r in rows
    ]


@hub.hookimpl
def check_health(hub: Any) -> list[tuple[str, bool, str]] | None:
    """Submissions the subscriber holds back: our configuration refused them (held), the
    service's event did not verify (unverified) or something unexpected failed."""
    if "fitconnect_subscriber" not in hub.config.channels:
        return None
    from sqlalchemy import func, select

    from hub_fitconnect import tables

    waiting: dict[str, int] = {}
    if hub.store.has_table("fitconnect_received"):
        t = tables.received
        with hub.store.reading() as conn:
            waiting = dict(
                conn.execute(
                    select(t.c.state, func.count())
                    .where(t.c.state.in_(("held", "unverified", "failed")))
                    .group_by(t.c.state)
                ).all()
            )
    if not waiting:
        return [("subscriber", True, "no submission held back")]
    text = ", ".join(f"{n} {state}" for state, n in sorted(waiting.items()))
    return [("subscriber", False, f"{text}: see `hub fitconnect received --state …`")]


@hub.hookimpl
def register_channels(register: Any) -> None:
    def subscriber(settings: dict[str, Any], h: Any) -> Any:
        from hub import parse_settings
        from hub_fitconnect.subscriber import Subscriber, SubscriberSettings

        return Subscriber(parse_settings(SubscriberSettings, settings), h)

    register("fitconnect_subscriber", subscriber)


@hub.hookimpl
def register_pollers(register: Any) -> None:
    """``[pollers.fitconnect_events]``: what became of the submissions the adapter sent."""

    def follower(settings: dict[str, Any], h: Any) -> Any:
        from hub import parse_settings
        from hub_fitconnect.sender import EventFollower, SenderSettings

        return EventFollower(parse_settings(SenderSettings, settings), h)

    register("fitconnect_events", follower, interval=30.0)


@hub.hookimpl
def register_adapters(register: Any) -> None:
    def make(settings: dict[str, Any], h: Any) -> Any:
        from hub import parse_settings
        from hub_fitconnect.sender import FitConnectAdapter, SenderSettings

        return FitConnectAdapter(parse_settings(SenderSettings, settings), h)

    register("fitconnect", make, description="FIT-Connect sender (Submission API v2)")


@hub.hookimpl
def register_routes(register: Any, hub: Any) -> None:
    api = APIRouter(prefix="/v1/fitconnect", tags=["fitconnect"])

    @api.post("/callback/{destination}", status_code=204)
    async def callback(destination: str, request: Request) -> Response:
        """FIT-Connect's notification of new submissions: verified, then the poll is woken."""
        from hub_fitconnect.subscriber import SUBSCRIBER

        subscriber = SUBSCRIBER.get(hub)
        dest = subscriber.destination(destination) if subscriber else None
        body = await request.body()
        if (
            dest is None
            or not dest.callback_secret
            or not verify_callback(
                dest.callback_secret,
                request.headers.get("callback-timestamp", ""),
                body,
                request.headers.get("callback-authentication", ""),
            )
        ):
            log.warning("fitconnect_callback_refused")
            return problem(401, "Unauthorized", "callback not authentic", kind="unauthorized")
        try:
            notice = parse_json_object(body)
            listed = {s.get("destinationId") for s in notice.get("submissions") or []}
        except hub_pkg.IntakeRejected as exc:
            return from_rejection(exc)
        except (TypeError, AttributeError):
            return from_rejection(
                hub_pkg.IntakeRejected.one(
                    "submissions", "type", "a list of submission objects", status_code=400
                )
            )
        if listed - {dest.id}:
            return problem(
                422,
                "Wrong destination",
                "the callback names another destination",
                kind="validation",
            )
        subscriber.wake.set()
        return Response(status_code=204)

    @api.get("/received")
    def received(
        state: str | None = None,
        limit: int = Query(100, ge=1, le=1000),
        client: Any = Depends(hub_pkg.require_client("admin")),
    ) -> dict[str, Any]:
        """What the subscriber did with each submission (ids, state, reason; no content), for
        the destinations of the caller's municipalities."""
        from hub import may_act_for

        configured = hub.config.channels.get("fitconnect_subscriber", {}).get("destinations", [])
        mine = {
            d.get("destination_id") for d in configured if may_act_for(client, d.get("ars", ""))
        }
        return {"items": _outcomes(hub, state, limit, destinations=mine)}

    register(api)


@hub.hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.group()
    def fitconnect() -> None:
        """FIT-Connect: keys and the simulator."""

    @fitconnect.command("keys")
    @click.option(
        "--out", "directory", required=True, type=click.Path(file_okay=False, path_type=Path)
    )
    @click.option("--prefix", default="destination", show_default=True)
    @click.option("--bits", default=4096, show_default=True, type=int)
    def keys(directory: Path, prefix: str, bits: int) -> None:
        """Make a destination's keys: encryption (RSA-OAEP-256) and signing (PS512), private
        and public JWKs."""
        import uuid

        from hub_fitconnect import crypto

        directory.mkdir(parents=True, exist_ok=True)
        for use in ("enc", "sig"):
            private = crypto.new_key_pair(
                f"{prefix}-{use}-{uuid.uuid4().hex[:8]}", use=use, bits=bits
            )
            path = directory / f"{prefix}-{use}.private.jwk.json"
            path.write_text(json.dumps(private))
            path.chmod(0o600)
            (directory / f"{prefix}-{use}.public.jwk.json").write_text(
                json.dumps(crypto.public_jwk(private))
            )
            click.echo(f"{path} (kid {private['kid']})")

    @fitconnect.command("received")
    @click.option("--state", "wanted", help="stored, accepted, rejected, held, unverified, failed")
    @click.option("--limit", default=100, show_default=True, type=int)
    @click.option("--json", "as_json", is_flag=True)
    @pass_hub
    def received(h: Any, wanted: str | None, limit: int, as_json: bool) -> None:
        """What the subscriber did with each submission, newest first."""
        rows = _outcomes(h, wanted, limit)
        if as_json:
            click.echo(json.dumps(rows, indent=2))
            return
        for r in rows:
            click.echo(
                f"{r['at']}  {r['state']:<10} {r['submission_id']}  case {r['case_id']}  "
                f"attempts {r['attempts']}  {r['reason'] or ''}".rstrip()
            )

    @fitconnect.command("simulator")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=8092, show_default=True, type=int)
    @click.option(
        "--setup",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="JSON: {clients: [{id, secret, destination?}], destinations: [{id, "
        "encryption_key, signing_key (public JWK files), leika, regions, schema_uri, "
        "callback_url?, callback_secret?}]}",
    )
    def simulator(host: str, port: int, setup: Path | None) -> None:
        """Run a FIT-Connect (token, Submission API v2, events, callbacks, routing) on loopback."""
        import uvicorn

        from hub_fitconnect.sim.service import FitConnectSimulator

        sim = FitConnectSimulator(f"http://{host}:{port}")
        if setup:
            apply_setup(sim, json.loads(setup.read_text()), setup.parent)
        click.echo(f"FIT-Connect simulator on http://{host}:{port}", err=True)
        uvicorn.run(sim.app, host=host, port=port, log_config=None, access_log=False)


def apply_setup(sim: Any, setup: dict[str, Any], base: Path) -> None:
    for c in setup.get("clients") or []:
        sim.add_client(c["id"], c["secret"], c.get("destination"))
    for d in setup.get("destinations") or []:
        sim.add_destination(
            d["id"],
            json.loads((base / d["encryption_key"]).read_text()),
            json.loads((base / d["signing_key"]).read_text()),
            leika=d["leika"],
            regions=d["regions"],
            schema_uri=d["schema_uri"],
            callback_url=d.get("callback_url"),
            callback_secret=d.get("callback_secret"),
        )


@hub.hookimpl
def register_tables(register: Any) -> None:
    """What the subscriber received and the sender sent."""
    from hub_fitconnect import tables

    register(tables)  # metadata, VERSION_TABLE and migrations/ beside it


@hub.hookimpl
def register_settings(register: Any) -> None:
    """``[plugins.fitconnect]`` (development: the embedded simulator), ``[adapters.x]`` of
    type ``fitconnect``, ``[channels.fitconnect_subscriber]``, ``[pollers.fitconnect_events]``."""
    from pydantic import BaseModel, ConfigDict

    from hub_fitconnect.sender import SenderSettings
    from hub_fitconnect.sim.embedded import EmbeddedSettings
    from hub_fitconnect.subscriber import SubscriberSettings

    class FitConnectPluginSettings(BaseModel):
        model_config = ConfigDict(extra="forbid")
        simulator: EmbeddedSettings | None = None

    register(FitConnectPluginSettings)
    register(SenderSettings, adapter_type="fitconnect")
    register(SubscriberSettings, channel_type="fitconnect_subscriber")
    register(SenderSettings, poller_type="fitconnect_events")


@hub.hookimpl
def register_statuses(register: Any) -> None:
    """What the destination answered to a submission the ``fitconnect`` adapter sent."""
    register(
        "fitconnect",
        {
            "accepted": "The destination accepted the submission (accept-submission event)",
            "rejected": "The destination rejected the submission (reject-submission event)",
        },
        final=("accepted", "rejected"),  # the last events of a submission's life (FIT-Connect)
    )
