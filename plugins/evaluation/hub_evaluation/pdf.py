"""The one-click PDF "Evaluation nach einem Jahr" (fpdf2; DejaVu Sans, which matplotlib ships,
so no font is fetched): the figures councils asked for, per Einsatz and as a whole, with the
charts and how small numbers were kept back."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

import matplotlib
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from hub_evaluation import charts
from hub_evaluation.yearly import KIND_WORDS, Evaluation

FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
HIDDEN = "<"  # in tables: a count kept back (fewer than min_cell)


def _n(value: Any, unit: str = "") -> str:
    if value is None:
        return HIDDEN
    if isinstance(value, float):
        text = f"{value:,.2f}" if unit == "€" else f"{value:,.1f}"
    else:
        text = f"{value:,}"
    text = text.replace(",", "\u202f").replace(".", ",")  # German: 1 234,5
    return f"{text} {unit}".strip()


def _share(part: int | None, whole: int | None) -> str:
    if part is None or not whole:
        return HIDDEN if whole else "–"
    return f"{100 * part / whole:.0f} %".replace(".", ",")


def evaluation_pdf(figures: Evaluation, *, title: str, generated: date) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.set_creator("hub evaluation")
    pdf.set_lang("de")
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_margins(18, 18, 18)
    pdf.set_auto_page_break(True, 18)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 18)
    _lines(pdf, 9, title)
    pdf.set_font("DejaVu", "", 10)
    period = f"{figures.first:%d.%m.%Y} bis {figures.last:%d.%m.%Y}"
    _lines(pdf, 6, f"Zeitraum: {period}. Erstellt am {generated:%d.%m.%Y}.")
    pdf.ln(2)
    _heading(pdf, "Auf einen Blick")
    e2e, of = figures.end_to_end
    _paragraph(
        pdf,
        f"{_count(len(figures.einsaetze), 'Einsatz', 'Einsätze')}, "
        f"{_n(figures.total_cases)} Fälle. "
        f"Medienbruchfrei (digital angenommen, über ein Fachverfahren zugestellt, digital "
        f"beschieden): {_n(e2e)} von {_n(of)} Fällen ({_share(e2e, of)}). "
        f"Zeit bis zur Zustellung an das Fachverfahren: Median "
        f"{_n(figures.to_delivery[0], 'min')}, 90. Perzentil {_n(figures.to_delivery[1], 'min')}; "
        f"bis zur abschließenden Antwort der Behörde: Median {_days(figures.to_final[0])}, "
        f"90. Perzentil {_days(figures.to_final[1])} ({_n(figures.to_final[2])} Fälle).",
    )
    _heading(pdf, "Einsätze")
    _table(
        pdf,
        ["Einsatz", "Art", "Tage", "Fälle", "davon medienbruchfrei", "Kosten", "Kosten je Fall"],
        [
            [f"{f.name} ({f.place})", KIND_WORDS.get(f.kind, f.kind), _n(f.days), _n(f.cases),
             _n(f.end_to_end), _cost(f.cost_eur, f.cost_eur),
             _cost(f.cost_eur, f.cost_per_case_eur)]
            for f in figures.einsaetze
        ],
        widths=[60, 24, 12, 14, 22, 20, 22],
    )  # fmt: skip
    _heading(pdf, "Termine")
    _table(
        pdf,
        ["Einsatz", "angeboten", "gebucht", "erschienen", "nicht erschienen", "ohne Termin",
         "abgesagt", "Auslastung"],
        [
            [f.name, _n(f.offered), _n(a.get("booked", 0)), _n(a.get("attended", 0)),
             _n(a.get("no_show", 0)), _n(a.get("walk_in", 0)), _n(a.get("cancelled", 0)),
             _share_of(a.get("utilisation")) if f.offered else "–"]
            for f in figures.einsaetze
            for a in [f.appointments]
        ],
        widths=[42, 19, 17, 20, 21, 19, 17, 19],
    )  # fmt: skip
    _heading(pdf, "Fälle je Monat")
    _chart(pdf, charts.line(figures.per_month, "Fälle je Monat", "Fälle"))
    points = [(f.place, f.lat, f.lon, f.cases) for f in figures.einsaetze]
    if points:
        _heading(pdf, "Orte")
        _chart(pdf, charts.places(points, "Einsatzorte (Kreisfläche: Fälle)"), width=130)
    _heading(pdf, "Dienstleistungen (LeiKa)")
    _table(
        pdf,
        ["Leistungsschlüssel", "Fälle", "zugestellt", "beschieden", "medienbruchfrei"],
        [[r["leika"], _n(r["cases"]), _n(r["delivered"]), _n(r["final"]), _n(r["end_to_end"])]
         for r in figures.per_service],
        widths=[60, 25, 25, 25, 35],
    )  # fmt: skip
    _heading(pdf, "OZG-Themenfelder")
    _table(
        pdf,
        ["Themenfeld", "Fälle", "medienbruchfrei"],
        [[r["ozg_topic"] or "unbekannt", _n(r["cases"]), _n(r["end_to_end"])]
         for r in figures.per_topic],
        widths=[80, 25, 35],
    )  # fmt: skip
    _heading(pdf, "Altersgruppen")
    _table(
        pdf,
        ["Altersgruppe", "Fälle"],
        [[r["age_band"] or "unbekannt", _n(r["cases"])] for r in figures.age_bands],
        widths=[60, 25],
    )
    _heading(pdf, "Methode und Datenschutz")
    _paragraph(
        pdf,
        "Die Zahlen stammen aus dem Integrationshub: Fälle aus der Antragsannahme, Termine aus "
        "der Terminvereinbarung, Einsätze aus der Einsatzplanung. Gespeichert werden nur "
        "Merkmale ohne Personenbezug (Tag, Kommune, Kanal, Leistung, Einsatz, Altersgruppe statt "
        f"Geburtsdatum); sie bleiben erhalten, wenn Anträge gelöscht werden. Werte von 1 bis "
        f"{figures.min_cell - 1} werden nicht ausgewiesen ({HIDDEN}); wo in einem Zeitraum nur "
        "ein Wert verborgen wäre, wird auch der nächstkleinere verborgen, damit die Summe ihn "
        "nicht verrät. Zeiten werden erst ab "
        f"{figures.min_cell} Fällen angegeben. Auslastung: gehaltene Termine (gebucht minus "
        "abgesagt) je angebotenem Termin. Kosten je Fall: erfasste Kosten (Personalstunden mal "
        "Stundensatz, Fahrt, Ausstattung, Sonstiges) im Zeitraum anteilig, geteilt durch die "
        "Fälle des Einsatzes.",
    )
    return bytes(pdf.output())


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _cost(entered: float | None, value: float | None) -> str:
    """A cost figure; "–" where no costs were entered."""
    return "–" if entered is None else _n(value, "€")


def _days(minutes: float | None) -> str:
    return _n(None if minutes is None else round(minutes / 1440, 1), "Tage")


def _share_of(value: float | None) -> str:
    return HIDDEN if value is None else f"{100 * value:.0f} %"


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(3)
    pdf.set_font("DejaVu", "B", 13)
    pdf.start_section(text)
    _lines(pdf, 7, text)
    pdf.set_font("DejaVu", "", 10)


def _paragraph(pdf: FPDF, text: str) -> None:
    _lines(pdf, 5.5, text)


def _lines(pdf: FPDF, height: float, text: str) -> None:
    """Text over the full width, the next line starting at the left margin."""
    pdf.multi_cell(0, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _table(pdf: FPDF, header: list[str], rows: list[list[str]], widths: list[int]) -> None:
    pdf.set_font("DejaVu", "", 7.5)
    with pdf.table(col_widths=widths, text_align="LEFT", line_height=4.2) as table:
        head = table.row()
        for text in header:
            head.cell(text)
        for row in rows or [["–"] * len(header)]:
            line = table.row()
            for text in row:
                line.cell(str(text))
    pdf.set_font("DejaVu", "", 10)


def _chart(pdf: FPDF, figure: Any, width: int = 170) -> None:
    pdf.image(io.BytesIO(charts.render(figure, "png")), w=width)


__all__ = ["evaluation_pdf"]
