"""Reports as files: CSV (RFC 4180, written here), XLSX and ODS (tablib, over openpyxl and
odfpy). A suppressed number is an empty field in every format."""

from __future__ import annotations

import csv
import io
from typing import Any

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}


def as_file(header: list[str], rows: list[list[Any]], fmt: str, title: str) -> bytes:
    """The table in ``fmt`` (one of :data:`FORMATS`); ``title`` names the sheet."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
        return buffer.getvalue().encode("utf-8")
    import tablib

    data = tablib.Dataset(*[tuple(row) for row in rows], headers=header, title=title[:31])
    return data.export(fmt)


def filename(report: str, fmt: str) -> str:
    return f"hub-{report}.{fmt}"


__all__ = ["FORMATS", "as_file", "filename"]
