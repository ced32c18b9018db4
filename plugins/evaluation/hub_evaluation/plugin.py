"""Hook implementations of the evaluation plugin: the facts table, keeping it in step with
every case, and the cases report by API and command line."""

from __future__ import annotations

from typing import Any

import click
from pydantic import BaseModel, ConfigDict, Field

import hub

NAME = "evaluation"


class EvaluationSettings(BaseModel):
    """``[plugins.evaluation]`` (optional)."""

    model_config = ConfigDict(extra="forbid")
    min_cell: int = Field(
        default=5, ge=2, le=100, description="Counts from 1 to min_cell - 1 are not shown"
    )


def settings(h: Any) -> EvaluationSettings:
    return hub.parse_settings(EvaluationSettings, h.config.plugins.get(NAME, {}))


@hub.hookimpl
def register_settings(register: Any) -> None:
    """``[plugins.evaluation]``: the smallest count a report shows."""
    register(EvaluationSettings)


@hub.hookimpl
def register_tables(register: Any) -> None:
    """The facts per case (no personal data) the reports are made of."""
    from hub_evaluation import tables

    register(tables)


@hub.hookimpl
def record_status_changed(hub: Any, record_id: str, status: str, adapter: str | None) -> None:
    """Keep the facts in step: acceptance, delivery, dead letters, retries (only where
    ``[plugins.evaluation]`` is configured: installing the plugin changes nothing)."""
    if NAME not in hub.config.plugins:
        return
    from hub_evaluation.facts import status_changed

    status_changed(hub, record_id, status, adapter)


@hub.hookimpl
def appointment_changed(hub: Any, change: Any) -> None:
    """Count appointments (booked, cancelled, attended, no-show, walk-in) per office."""
    if NAME not in hub.config.plugins:
        return
    from hub_evaluation import facts

    facts.appointment_changed(hub, change)


@hub.hookimpl
def einsatz_planned(hub: Any, plan: Any) -> None:
    """Keep each Einsatz's place and offered slots (utilisation, the map of places)."""
    if NAME not in hub.config.plugins:
        return
    from hub_evaluation import facts

    facts.einsatz_planned(hub, plan)


@hub.hookimpl
def register_routes(register: Any, hub: Any) -> None:
    """``/v1/reports/…`` (where ``[plugins.evaluation]`` is configured)."""
    if hub is None or NAME not in hub.config.plugins:
        return
    from hub_evaluation.routes import router

    register(router(hub, settings))


@hub.hookimpl
def register_console_pages(register: Any, hub: Any) -> None:
    """Auswertung: the figures and charts of the person's municipalities, the PDF."""
    if hub is None or NAME not in hub.config.plugins:
        return
    from hub_evaluation.console import page

    register(page(settings))


@hub.hookimpl
def register_commands(cli: click.Group) -> None:
    from hub_evaluation.cli import report

    cli.add_command(report(settings))
