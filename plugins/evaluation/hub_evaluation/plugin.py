"""Hook implementations of the evaluation plugin: the facts table, keeping it in step with
every case, and the cases report by API and command line."""

from __future__ import annotations

from typing import Any

import click
from pydantic import BaseModel, ConfigDict, Field

import hub
from hub import pass_hub

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


def _by(value: str) -> list[str]:
    from hub_evaluation.report import DIMENSIONS

    names = [v.strip() for v in value.split(",") if v.strip()]
    bad = [n for n in names if n not in DIMENSIONS]
    if bad or len(set(names)) != len(names):
        raise hub.IntakeRejected.one(
            "by", "choice", f"a comma-separated list of {', '.join(DIMENSIONS)}"
        )
    return names


@hub.hookimpl
def register_routes(register: Any, hub: Any) -> None:
    """``GET /v1/reports/cases`` (where ``[plugins.evaluation]`` is configured)."""
    if hub is None or NAME not in hub.config.plugins:
        return
    from hub_evaluation.routes import router

    register(router(hub, settings, _by))


@hub.hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.group()
    def report() -> None:
        """Reports for councils: aggregates only, small cells suppressed."""

    @report.command("cases")
    @click.option("--period", type=click.Choice(["day", "week", "month", "year"]), default="month")
    @click.option("--by", default="channel", show_default=True, help="ars,channel,leika,…")
    @click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]))
    @click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]))
    @click.option("--ars", "ars", multiple=True, help="ARS or prefix ending in * (default: all)")
    @pass_hub
    def cases(h: Any, period: str, by: str, first: Any, last: Any, ars: tuple[str, ...]) -> None:
        """Cases per period as CSV on standard output."""
        from hub_evaluation.report import as_csv, cases_report, window

        try:
            dims = _by(by)
        except hub.IntakeRejected as exc:
            raise hub.rejection_error(exc) from None
        h.start(intake_thread=False)
        start, end = window(first.date() if first else None, last.date() if last else None)
        found, totals = cases_report(
            h.store,
            period=period,
            by=dims,
            first=start,
            last=end,
            ars_patterns=list(ars) or ["*"],
            threshold=settings(h).min_cell,
        )
        click.echo(as_csv(found, dims, totals), nl=False)
