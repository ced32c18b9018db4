"""The structure of a Leistungsschlüssel (LeiKa) and of an Amtlicher Regionalschlüssel (ARS).

LeiKa key, 14 digits: ``99`` (national) · Leistungsgruppierung (3) · Leistungskennung (3) ·
Verrichtung (3) · Verrichtungsdetail (3). The first 8 digits are the Leistungsobjekt-ID.
``…000000`` is a bare object (LO), ``…VVV000`` object with Verrichtung (LOV), anything else
object with Verrichtung and detail (LOVD).

ARS, 12 digits: Land (2) · Regierungsbezirk (1) · Kreis (2) · Gemeindeverband (4) · Gemeinde (3).
AGS (8 digits) = ARS[0:5] + ARS[9:12].
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

LEIKA_RE = re.compile(r"^99[0-9]{12}$")
ARS_RE = re.compile(r"^[0-9]{12}$")
AGS_RE = re.compile(r"^[0-9]{8}$")

# Verrichtung codes as used in the LeiKa (derived from the catalogue's own LOV names).
VERRICHTUNGEN: dict[str, str] = {
    "001": "Erteilung",
    "002": "Festsetzung",
    "005": "Erlaubnis",
    "006": "Genehmigung",
    "007": "Zulassung",
    "010": "Befreiung",
    "011": "Änderung",
    "012": "Ausstellung",
    "013": "Informationserteilung",
    "016": "Anerkennung",
    "017": "Bewilligung",
    "020": "Verlängerung",
    "022": "Bescheinigung",
    "023": "Auskunft",
    "027": "Förderung",
    "029": "Prüfung",
    "034": "Aufnahme",
    "037": "Feststellung",
    "058": "Durchführung",
    "060": "Eintragung",
    "061": "Bestellung",
    "064": "Löschung",
    "070": "Abmeldung",
    "080": "Gewährung",
    "104": "Anmeldung",
    "109": "Einsicht gewähren",
    "131": "Zahlung",
}

LAENDER: dict[str, str] = {
    "01": "Schleswig-Holstein",
    "02": "Hamburg",
    "03": "Niedersachsen",
    "04": "Bremen",
    "05": "Nordrhein-Westfalen",
    "06": "Hessen",
    "07": "Rheinland-Pfalz",
    "08": "Baden-Württemberg",
    "09": "Bayern",
    "10": "Saarland",
    "11": "Berlin",
    "12": "Brandenburg",
    "13": "Mecklenburg-Vorpommern",
    "14": "Sachsen",
    "15": "Sachsen-Anhalt",
    "16": "Thüringen",
}


class KeyError_(ValueError):
    """A key that is not well-formed; the message names the rule."""


class LeikaKind(StrEnum):
    LO = "LO"
    LOV = "LOV"
    LOVD = "LOVD"


@dataclass(frozen=True)
class LeikaKey:
    key: str

    @classmethod
    def parse(cls, value: str) -> LeikaKey:
        if not isinstance(value, str) or not LEIKA_RE.match(value):
            raise KeyError_("a Leistungsschlüssel has 14 digits and starts with 99")
        return cls(value)

    @property
    def gruppierung(self) -> str:
        return self.key[2:5]

    @property
    def kennung(self) -> str:
        return self.key[5:8]

    @property
    def objekt_id(self) -> str:
        """Leistungsobjekt-ID: the first 8 digits."""
        return self.key[:8]

    @property
    def verrichtung(self) -> str | None:
        code = self.key[8:11]
        return None if code == "000" else code

    @property
    def verrichtung_name(self) -> str | None:
        return VERRICHTUNGEN.get(self.verrichtung or "")

    @property
    def detail(self) -> str | None:
        code = self.key[11:14]
        return None if code == "000" else code

    @property
    def kind(self) -> LeikaKind:
        if self.verrichtung is None and self.detail is None:
            return LeikaKind.LO
        return LeikaKind.LOV if self.detail is None else LeikaKind.LOVD

    @property
    def object_key(self) -> str:
        """The LO this key belongs to."""
        return self.objekt_id + "000000"

    @property
    def parent(self) -> str | None:
        """LOVD → its LOV, LOV → its LO, LO → None."""
        if self.kind is LeikaKind.LOVD:
            return self.key[:11] + "000"
        if self.kind is LeikaKind.LOV:
            return self.object_key
        return None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "key": self.key,
            "kind": self.kind.value,
            "objekt_id": self.objekt_id,
            "leistungsgruppierung": self.gruppierung,
            "leistungskennung": self.kennung,
            "verrichtung": self.verrichtung,
            "verrichtung_name": self.verrichtung_name,
            "verrichtungsdetail": self.detail,
            "urn": f"urn:de:fim:leika:leistung:{self.key}",
        }


class RegionLevel(StrEnum):
    bund = "bund"
    land = "land"
    regierungsbezirk = "regierungsbezirk"
    kreis = "kreis"
    gemeindeverband = "gemeindeverband"
    gemeinde = "gemeinde"


@dataclass(frozen=True)
class Ars:
    ars: str

    @classmethod
    def parse(cls, value: str) -> Ars:
        if not isinstance(value, str):
            raise KeyError_("an ARS is a string of 12 digits")
        if AGS_RE.match(value):
            return cls.from_ags(value)
        if not ARS_RE.match(value):
            raise KeyError_("an ARS has 12 digits (an AGS 8)")
        if value != "000000000000" and value[:2] not in LAENDER:
            raise KeyError_(f"an ARS starts with a Land code 01–16, not {value[:2]}")
        return cls(value)

    @classmethod
    def from_ags(cls, ags: str) -> Ars:
        """AGS → ARS. The Gemeindeverband is not in the AGS: for a kreisfreie Stadt or a
        verbandsfreie Gemeinde it is ``0000``, which this assumes; a Gemeinde in a Verband needs
        the code list (:meth:`hub_ozg_catalog.store.Catalogue.ars_for_ags`)."""
        if not AGS_RE.match(ags):
            raise KeyError_("an AGS has 8 digits")
        return cls(ags[:5] + "0000" + ags[5:])

    @property
    def ags(self) -> str:
        return self.ars[:5] + self.ars[9:]

    @property
    def land(self) -> str:
        return self.ars[:2]

    @property
    def land_name(self) -> str | None:
        return LAENDER.get(self.land)

    @property
    def regierungsbezirk(self) -> str:
        return self.ars[2]

    @property
    def kreis(self) -> str:
        return self.ars[3:5]

    @property
    def gemeindeverband(self) -> str:
        return self.ars[5:9]

    @property
    def gemeinde(self) -> str:
        return self.ars[9:12]

    @property
    def level(self) -> RegionLevel:
        if self.ars == "000000000000":
            return RegionLevel.bund
        if self.ars[2:] == "0" * 10:
            return RegionLevel.land
        if self.ars[3:] == "0" * 9:
            return RegionLevel.regierungsbezirk
        if self.ars[5:] == "0" * 7:
            return RegionLevel.kreis
        if self.gemeinde == "000":
            return RegionLevel.gemeindeverband
        return RegionLevel.gemeinde

    @property
    def kreis_ars(self) -> str:
        return self.ars[:5] + "0" * 7

    @property
    def land_ars(self) -> str:
        return self.ars[:2] + "0" * 10

    def hierarchy(self) -> list[str]:
        """This ARS and every level above it, most specific first, ending with the Bund:
        Gemeinde → Gemeindeverband → Kreis → Regierungsbezirk → Land → Bund."""
        levels = [
            self.ars,
            self.ars[:9] + "000",
            self.kreis_ars,
            self.ars[:3] + "0" * 9,
            self.land_ars,
            "000000000000",
        ]
        out: list[str] = []
        for ars in levels:
            if ars not in out:
                out.append(ars)
        return out

    def as_dict(self) -> dict[str, str | None]:
        return {
            "ars": self.ars,
            "ags": self.ags,
            "level": self.level.value,
            "land": self.land,
            "land_name": self.land_name,
            "regierungsbezirk": self.regierungsbezirk,
            "kreis": self.kreis,
            "gemeindeverband": self.gemeindeverband,
            "gemeinde": self.gemeinde,
            "kreis_ars": self.kreis_ars,
            "land_ars": self.land_ars,
        }
