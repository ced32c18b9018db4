"""German text as citizens type it: folding, stemming, compounds, and everyday vocabulary.

Folding makes Straße/Strasse, Führerschein/Fuehrerschein and ẞ/ß meet. Stems come from the
Snowball German stemmer (snowballstemmer), so "anmelden" and "Anmeldung" meet. Compounds are
split against the catalogue's own vocabulary (Wohnsitzanmeldung → Wohnsitz + Anmeldung).
:data:`CONCEPTS` maps everyday words to the administration's words (Perso → Personalausweis,
ummelden → Anmeldung/Änderung des Wohnsitzes); the ranking weights them below the citizen's own
words, so a literal match still wins.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ẞ": "ss"})
_NON_WORD = re.compile(r"[^a-z0-9]+")
_STEMMER = snowballstemmer.stemmer("german")

# fmt: off
STOPWORDS = frozenset({
    "der", "die", "das", "den", "dem", "des", "ein", "eine", "einer", "eines", "einem", "einen",
    "und", "oder", "fuer", "von", "vom", "zu", "zum", "zur", "mit", "im", "in", "ins", "an",
    "am", "auf", "aus", "bei", "beim", "ich", "mein", "meine", "meinen", "meinem", "meiner",
    "mich", "mir", "wie", "was", "wo", "wann", "kann", "koennen", "will", "moechte", "muss",
    "brauche", "bitte", "ist", "sind", "wird", "werden", "hat", "habe", "haben", "nach", "wegen",
    "als", "u", "a", "sowie", "bzw", "fuers", "online", "mal",
})
# fmt: on

# Gluing elements between the parts of German compounds (Fugenelemente).
_FUGEN = ("", "s", "es", "n", "en", "e", "er")


def fold(text: str) -> str:
    """Lower case, umlauts and ß spelt out, accents and punctuation gone."""
    text = text.lower().translate(_FOLD)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return _NON_WORD.sub(" ", text).strip()


def words(text: str, *, keep_stopwords: bool = False) -> list[str]:
    found = fold(text).split()
    return found if keep_stopwords else [w for w in found if w not in STOPWORDS]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return _STEMMER.stemWord(word)


def split_compound(word: str, vocabulary: frozenset[str], min_part: int = 3) -> list[str] | None:
    """Split ``word`` into known words (with Fugenelemente), longest head first; None if it
    cannot be split entirely into words of ``vocabulary``."""
    if len(word) < 2 * min_part:
        return None
    for cut in range(len(word) - min_part, min_part - 1, -1):
        head, tail = word[:cut], word[cut:]
        for fuge in _FUGEN:
            if fuge and not head.endswith(fuge):
                continue
            base = head[: len(head) - len(fuge)] if fuge else head
            if len(base) < min_part or base not in vocabulary:
                continue
            if tail in vocabulary:
                return [base, tail]
            rest = split_compound(tail, vocabulary, min_part)
            if rest:
                return [base, *rest]
    return None


@dataclass(frozen=True)
class Concept:
    """What an everyday word means in the catalogue's words.

    ``required``: alternatives, any of which satisfies the word. ``optional``: words that make a
    match more likely (a context) without being needed.
    """

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()


def _c(required: str, optional: str = "") -> Concept:
    return Concept(tuple(required.split()), tuple(optional.split()))


_APPLY = "ausstellung erteilung bewilligung genehmigung beantragung antrag"
_NEW = "ausstellung erstmalig neu"

# Folded everyday words → catalogue words. Grouped by what citizens come for.
CONCEPTS: dict[str, Concept] = {
    # documents
    "perso": _c("personalausweis"),
    "personalausweis": _c("personalausweis"),
    "ausweis": _c("personalausweis ausweis"),
    "id": _c("personalausweis"),
    "pass": _c("reisepass pass"),
    "kinderpass": _c("kinderreisepass"),
    "kinderausweis": _c("kinderreisepass"),
    "fuehrerschein": _c("fuehrerschein fahrerlaubnis"),
    "meldebescheinigung": _c("meldebestaetigung"),
    "wohnungsbescheinigung": _c("meldebestaetigung"),
    "anwohnerparkausweis": _c("bewohnerparkausweis"),
    "anwohnerparken": _c("bewohnerparkausweis"),
    "parkausweis": _c("parkausweis bewohnerparkausweis"),
    "angelschein": _c("fischereischein"),
    "fischerschein": _c("fischereischein"),
    "steuerid": _c("steueridentifikationsnummer"),
    "steuernummer": _c("steueridentifikationsnummer steuernummer"),
    "bafoeg": _c("ausbildungsfoerderung"),
    "kita": _c("kindertagesstaette kindertageseinrichtung kindertagesbetreuung"),
    "kindergarten": _c("kindertagesstaette kindertageseinrichtung"),
    "fundbuero": _c("fundsachen"),
    # living and moving
    "wohnung": _c("wohnsitz wohnung"),
    "wohnort": _c("wohnsitz wohnort"),
    "adresse": _c("wohnsitz adresse"),
    "zweitwohnung": _c("nebenwohnsitz nebenwohnung"),
    "zweitwohnsitz": _c("nebenwohnsitz"),
    "hauptwohnung": _c("hauptwohnsitz hauptwohnung"),
    "ummelden": _c("ummeldung anmeldung aenderung", "wohnsitz"),
    "ummeldung": _c("ummeldung anmeldung aenderung", "wohnsitz"),
    "umzug": _c("umzug wohnsitz", "anmeldung"),
    "umziehen": _c("wohnsitz umzug", "anmeldung"),
    "umgezogen": _c("wohnsitz umzug", "anmeldung"),
    "zugezogen": _c("wohnsitz", "anmeldung"),
    "hund": _c("hundesteuer hundehaltung hund"),
    "hunde": _c("hundesteuer hundehaltung hund"),
    "auto": _c("kraftfahrzeug fahrzeug"),
    "kfz": _c("kraftfahrzeug fahrzeug"),
    "wagen": _c("kraftfahrzeug fahrzeug"),
    "muell": _c("abfall muell hausmuell"),
    # life events
    "heiraten": _c("eheschliessung ehe heirat"),
    "hochzeit": _c("eheschliessung"),
    "trauung": _c("eheschliessung"),
    "heirat": _c("eheschliessung heirat"),
    "baby": _c("geburt geburtsurkunde"),
    "austreten": _c("austritt kirchenaustritt"),
    "kirche": _c("kirchenaustritt kirche"),
    "firma": _c("gewerbe unternehmen"),
    "selbststaendig": _c("gewerbe"),
    "rente": _c("rente rentenversicherung"),
    "kopie": _c("abschriften ablichtungen kopie"),
    # what the citizen wants done
    "beantragen": _c(_APPLY),
    "antrag": _c(_APPLY),
    "bekommen": _c(_APPLY),
    "brauche": _c(_APPLY),
    "neu": _c(_NEW),
    "neuer": _c(_NEW),
    "neuen": _c(_NEW),
    "neues": _c(_NEW),
    "ausstellen": _c("ausstellung"),
    "verlaengern": _c("verlaengerung"),
    "verlaengert": _c("verlaengerung"),
    "verloren": _c("verlust verloren"),
    "verlieren": _c("verlust"),
    "weg": _c("verlust"),
    "gestohlen": _c("diebstahl"),
    "geklaut": _c("diebstahl"),
    "abgelaufen": _c("ablauf gueltigkeit"),
    "ungueltig": _c("ablauf gueltigkeit"),
    "abholen": _c("abholung"),
    "anfordern": _c("zusendung ausstellung anforderung"),
    "zuschicken": _c("zusendung"),
    "eroeffnen": _c("erlaubnis anzeige anmeldung"),
    "anerkennen": _c("anerkennung"),
    "zulassen": _c("zulassung"),
    "aendern": _c("aenderung"),
    "kuendigen": _c("abmeldung kuendigung"),
    "sperren": _c("sperre auskunftssperre"),
}

# Folded two-word phrases whose meaning is more than their words.
PHRASES: dict[str, list[Concept]] = {
    "steuer id": [_c("steueridentifikationsnummer")],
    "auto anmelden": [_c("kraftfahrzeug"), _c("zulassung")],
    "auto zulassen": [_c("kraftfahrzeug"), _c("zulassung")],
    "kfz anmelden": [_c("kraftfahrzeug"), _c("zulassung")],
    "kfz zulassung": [_c("kraftfahrzeug"), _c("zulassung")],
    "auto abmelden": [_c("kraftfahrzeug"), _c("abmeldung")],
    "hund anmelden": [_c("hundesteuer hundehaltung"), _c("anmeldung festsetzung", "")],
}
