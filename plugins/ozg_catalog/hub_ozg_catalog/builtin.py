"""The core Bürgeramt services, available without any import so a fresh hub can route and
search them. Keys, names, Typisierung and OZG assignment as in the LeiKa (KDN extract 2019–2021);
``99102013104000`` (Hundesteuer Anmeldung) is the newer key PVOG uses for dog-tax registration.
"""

from __future__ import annotations

_WOHNEN = ("10124", "Wohnsitzmeldungen", "Wohnen & Umzug", "Bauen & Wohnen")
_MELDE = ("10559", "Meldebescheinigung und -registerauskunft", "Querschnitt Bürger", "Querschnitt")
_PASS = ("10177", "Reisepass", "Auslandsaufenthalt", "Mobilität & Reisen")
_HUND = ("10160", "Hundehaltung", "Tierhaltung", "Engagement & Hobby")

# (key, name, typisierung, (ozg_id, ozg_leistung, lebenslage, themenfeld), synonyms)
_ROWS = [
    ("99115005104000", "Wohnsitz Anmeldung", "2/3", _WOHNEN, "Ummeldung|Wohnungsanmeldung"),
    ("99115005104001", "Wohnsitz Anmeldung als Hauptwohnsitz", "2/3", _WOHNEN, ""),
    ("99115005104002", "Wohnsitz Anmeldung als Nebenwohnsitz", "2/3", _WOHNEN, "Zweitwohnung"),
    ("99115005070000", "Wohnsitz Abmeldung", "2/3", _WOHNEN, "Wegzug"),
    ("99115005011000", "Wohnsitz Änderung", "2/3", _WOHNEN, ""),
    (
        "99008001012000",
        "Personalausweis Ausstellung",
        "2/3",
        ("10119", "Personalausweis", "Querschnitt Bürger", "Querschnitt"),
        "Perso|Ausweis",
    ),
    ("99085001012000", "Reisepass Ausstellung", "2/3", _PASS, "Pass"),
    ("99085003012000", "Kinderreisepass Ausstellung", "2/3", _PASS, "Kinderpass"),
    (
        "99115003012000",
        "amtliche Meldebestätigung Ausstellung",
        "2/3",
        _MELDE,
        "Meldebescheinigung",
    ),
    (
        "99115002060000",
        "Auskunfts- und Übermittlungssperren im Melderegister Eintragung",
        "2/3",
        (
            "10111",
            "Auskunfts- und Übermittlungssperren im Melderegister, Adressbuchsperre",
            "Wohnen & Umzug",
            "Bauen & Wohnen",
        ),
        "Auskunftssperre",
    ),
    ("99102013000000", "Hundesteuer", "4", _HUND, ""),
    ("99102013104000", "Hundesteuer Anmeldung", "4", _HUND, "Hund anmelden"),
    (
        "99050012104000",
        "Gewerbe Anmeldung",
        "2/3",
        (
            "10294",
            "Unternehmensanmeldung und -genehmigung",
            "Unternehmensstart & Gewerbezulassung",
            "Unternehmensführung & -entwicklung",
        ),
        "Gewerbeanmeldung|Gewerbeschein",
    ),
    (
        "99027002012000",
        "Geburtsurkunde Ausstellung",
        "2/3",
        ("10557", "Geburtsurkunde und -bescheinigung", "Querschnitt Bürger", "Querschnitt"),
        "",
    ),
    (
        "99128001120000",
        "Briefwahl Zusendung",
        "2/3",
        ("10145", "Wahlschein und Briefwahl", "Engagement & Beteiligung", "Engagement & Hobby"),
        "Wahlschein|Briefwahlunterlagen",
    ),
    (
        "99049001001000",
        "Führungszeugnis Erteilung",
        "1",
        ("10562", "Führungszeugnis", "Querschnitt Unternehmen", "Querschnitt"),
        "",
    ),
]


def builtin_services() -> list[dict[str, str | None]]:
    return [
        {
            "leika_key": key,
            "name": name,
            "name2": None,
            "typisierung": typ,
            "ozg_id": ozg[0],
            "ozg_leistung": ozg[1],
            "lebenslage": ozg[2],
            "themenfeld": ozg[3],
            "rechtsgrundlage": None,
            "synonyms": syn or None,
        }
        for key, name, typ, ozg, syn in _ROWS
    ]
