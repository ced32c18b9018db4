"""``hub report …``: the reports as files, cost inputs, the one-year PDF and the sample year."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import click

import hub
from hub import pass_hub

WINDOW = [
    click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"])),
    click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"])),
    click.option("--ars", "ars", multiple=True, help="ARS or prefix ending in * (default: all)"),
]


def _window(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(WINDOW):
        func = option(func)
    return func


def _dates(first: Any, last: Any) -> tuple[date, date]:
    from hub_evaluation.routes import checked_window

    try:
        return checked_window(first.date() if first else None, last.date() if last else None)
    except hub.IntakeRejected as exc:
        raise hub.rejection_error(exc) from None


def _write(content: bytes, output: str | None) -> None:
    if output:
        Path(output).write_bytes(content)
        click.echo(f"written: {output}", err=True)
    else:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()


def report(settings: Callable[[Any], Any]) -> click.Group:
    @click.group("report")
    def group() -> None:
        """Reports for councils: aggregates only, small cells suppressed."""

    def tabular(name: str, dims_of: str, default_by: str, total_of: str) -> None:
        @group.command(name)
        @click.option("--period", type=click.Choice(["day", "week", "month", "year"]),
                      default="month")  # fmt: skip
        @click.option("--by", default=default_by, show_default=True)
        @_window
        @click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "ods"]), default="csv")
        @click.option("--output", "-o", help="File to write (default: standard output)")
        @pass_hub
        def command(h: Any, period: str, by: str, first: Any, last: Any, ars: tuple[str, ...],
                    fmt: str, output: str | None) -> None:  # fmt: skip
            from hub_evaluation import report as reports
            from hub_evaluation.export import as_file
            from hub_evaluation.routes import dimensions

            try:
                dims = dimensions(by, getattr(reports, dims_of))
            except hub.IntakeRejected as exc:
                raise hub.rejection_error(exc) from None
            start, end = _dates(first, last)
            h.start(intake_thread=False)
            run = getattr(reports, f"{name}_report")
            cells, totals = run(
                h.store, period=period, by=dims, first=start, last=end,
                ars_patterns=list(ars) or ["*"], threshold=settings(h).min_cell,
            )  # fmt: skip
            header, rows = reports.table(cells, dims, totals, total_of)
            _write(as_file(header, rows, fmt, name), output)

        command.__doc__ = f"The {name} report per period as CSV, XLSX or ODS."

    tabular("cases", "DIMENSIONS", "channel", "cases")
    tabular("appointments", "APPOINTMENT_DIMENSIONS", "office", "booked")

    @group.command("cost")
    @click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), required=True)
    @click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), required=True)
    @click.option("--ars", required=True, help="The municipality (12-digit ARS)")
    @click.option("--einsatz", "einsatz_id", help="The Einsatz the costs belong to")
    @click.option("--channel", help="…or the channel (portal, koffer, …)")
    @click.option("--staff-hours", type=float, default=0)
    @click.option("--hourly-rate", type=float, default=0, help="EUR per staff hour")
    @click.option("--travel", type=float, default=0, help="EUR")
    @click.option("--kit", type=float, default=0, help="EUR")
    @click.option("--other", type=float, default=0, help="EUR")
    @click.option("--note")
    @pass_hub
    def cost(h: Any, first: Any, last: Any, **given: Any) -> None:
        """Enter costs of an Einsatz (or a channel) for cost per case."""
        from pydantic import ValidationError

        from hub_evaluation.routes import CostIn, add_cost

        values = {
            "first_day": first.date(), "last_day": last.date(), "ars": given["ars"],
            "einsatz_id": given["einsatz_id"], "channel": given["channel"],
            "staff_hours": given["staff_hours"], "hourly_rate_eur": given["hourly_rate"],
            "travel_eur": given["travel"], "kit_eur": given["kit"],
            "other_eur": given["other"], "note": given["note"],
        }  # fmt: skip
        try:
            body = CostIn.model_validate(values)
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"]) or "(costs)"
            raise click.UsageError(f"{where}: {problem['msg']}") from None
        h.start(intake_thread=False)
        click.echo(add_cost(h, body, "cli")["id"])

    @group.command("evaluation")
    @click.option("--einsatz", "einsaetze", multiple=True, help="Einsatz id (default: all)")
    @_window
    @click.option("--output", "-o", required=True, help="The PDF file to write")
    @pass_hub
    def one_year(h: Any, einsaetze: tuple[str, ...], first: Any, last: Any,
                 ars: tuple[str, ...], output: str) -> None:  # fmt: skip
        """ "Evaluation nach einem Jahr" as PDF (default: the last 365 days)."""
        from hub_evaluation.routes import evaluation_report

        start, end = _dates(first, last)
        h.start(intake_thread=False)
        _write(evaluation_report(h, list(einsaetze), list(ars) or ["*"], start, end, settings),
               output)  # fmt: skip

    @group.command("sample-year")
    @click.option("--year", type=int, default=date.today().year - 1, show_default="last year")
    @click.option("--seed", type=int, default=1, show_default=True)
    @click.option("--scale", type=click.FloatRange(0.01, 10), default=1.0, show_default=True)
    @pass_hub
    def sample_year(h: Any, year: int, seed: int, scale: float) -> None:
        """Feed a realistic year of sample cases, appointments and Einsätze through the
        hub's intake (for a store of its own: examples/hub.sample.toml)."""
        from hub_evaluation.sample import feed

        if "evaluation" not in h.config.plugins:
            raise click.UsageError("[plugins.evaluation] is not configured")
        h.start(intake_thread=False)
        last = [0]

        def progress(n: int) -> None:
            if n - last[0] >= 1000:
                click.echo(f"{n} cases", err=True)
                last[0] = n

        truth = feed(h, year=year, seed=seed, scale=scale, progress=progress)
        click.echo(f"{truth.total} cases, {sum(truth.appointments.values())} appointments, "
                   f"{len(truth.stops)} Einsätze in {year}")  # fmt: skip

    return group


__all__ = ["report"]
