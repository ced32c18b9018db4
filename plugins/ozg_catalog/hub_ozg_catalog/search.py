"""Ranked search over the catalogue.

An inverted index of stems, built from the store's rows and rebuilt when the catalogue version
changes. Each query word becomes a *group* of alternative index terms (its own stem; compound
parts; the administration's words for it; typo corrections by rapidfuzz over the vocabulary).
A service scores the best term of each group, weighted by inverse document frequency; services
that satisfy every group win, shorter names break ties (a bare service before its variants).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from hub_ozg_catalog.text import CONCEPTS, PHRASES, Concept, fold, split_compound, stem, words

# Field weights: a word of the service's name counts most.
W_NAME, W_NAME2, W_SYNONYM, W_OZG, W_PART = 1.0, 0.8, 0.9, 0.3, 0.7
# Query-side weights: the citizen's own word beats our reading of it.
W_OWN, W_CONCEPT, W_PREFIX, W_FUZZY = 1.0, 0.75, 0.8, 0.8
OPTIONAL_SHARE = 0.35
LENGTH_PENALTY = 0.12
FUZZY_CUTOFF = 80


@dataclass(frozen=True)
class Doc:
    key: str
    name: str
    ozg_id: str | None
    length: int


@dataclass(frozen=True)
class Hit:
    key: str
    name: str
    ozg_id: str | None
    score: float

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "name": self.name,
            "ozg_id": self.ozg_id,
            "score": round(self.score, 4),
        }


@dataclass
class _Group:
    terms: dict[str, float] = field(default_factory=dict)  # index term → query weight
    required: bool = True

    def add(self, term: str, weight: float) -> None:
        if weight > self.terms.get(term, 0.0):
            self.terms[term] = weight


class SearchIndex:
    """Built once per catalogue version; searching allocates little and never touches the DB."""

    def __init__(self, rows: Iterable[dict[str, str | None]]):
        self.docs: list[Doc] = []
        postings: dict[str, dict[int, float]] = defaultdict(dict)
        raw: list[tuple[int, list[tuple[str, float]]]] = []
        vocabulary: set[str] = set()
        for row in rows:
            fields = [
                (row.get("name") or "", W_NAME),
                (row.get("name2") or "", W_NAME2),
                ((row.get("synonyms") or "").replace("|", " "), W_SYNONYM),
                (row.get("ozg_leistung") or "", W_OZG),
            ]
            tokens = [(w, weight) for text, weight in fields for w in words(text)]
            vocabulary.update(w for w, _ in tokens if len(w) >= 3)
            doc_id = len(self.docs)
            name_stems = {stem(w) for w in words(row.get("name") or "")}
            self.docs.append(
                Doc(
                    str(row["leika_key"]),
                    str(row["name"]),
                    row.get("ozg_id") or None,
                    max(1, len(name_stems)),
                )
            )
            raw.append((doc_id, tokens))
        self.vocabulary = frozenset(vocabulary)
        for doc_id, tokens in raw:
            for word, weight in tokens:
                self._post(postings, stem(word), doc_id, weight)
                for part in split_compound(word, self.vocabulary) or ():
                    self._post(postings, stem(part), doc_id, weight * W_PART)
        self.postings = dict(postings)
        n = len(self.docs)
        self.idf = {t: math.log((n + 1) / (len(p) + 0.5)) for t, p in self.postings.items()}
        self.terms = sorted(self.postings)

    @staticmethod
    def _post(postings: dict[str, dict[int, float]], term: str, doc: int, weight: float) -> None:
        if weight > postings[term].get(doc, 0.0):
            postings[term][doc] = weight

    # --- query analysis -------------------------------------------------------------------------

    def _resolve(
        self, word: str, weight: float, group: _Group, *, allow_fuzzy: bool, exact: bool = False
    ) -> bool:
        """Add the index terms for ``word`` to ``group``; False if nothing was found."""
        term = stem(word)
        if term in self.postings:
            group.add(term, weight)
            return True
        if exact:
            return False
        if len(term) >= 5:
            longer = [t for t in self._with_prefix(term) if t != term][:20]
            for t in longer:
                group.add(t, weight * W_PREFIX)
            if longer:
                return True
        if allow_fuzzy and len(term) >= 4:
            for t, score, _ in process.extract(
                term, self.terms, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=3
            ):
                group.add(t, weight * W_FUZZY * score / 100)
            return bool(group.terms)
        return False

    def _with_prefix(self, prefix: str) -> list[str]:
        import bisect

        start = bisect.bisect_left(self.terms, prefix)
        out = []
        for t in self.terms[start : start + 50]:
            if not t.startswith(prefix):
                break
            out.append(t)
        return out

    def _concept_groups(self, concept: Concept, own: str | None) -> list[_Group]:
        required = _Group()
        if own is not None:
            # A word we know the meaning of matches only itself; its concept does the rest
            # (else "Perso" would prefix-match every "Person…").
            self._resolve(own, W_OWN, required, allow_fuzzy=False, exact=True)
        for alt in concept.required:
            self._resolve(alt, W_CONCEPT if alt != own else W_OWN, required, allow_fuzzy=False)
        groups = [required] if required.terms else []
        if concept.optional:
            optional = _Group(required=False)
            for alt in concept.optional:
                self._resolve(alt, W_CONCEPT, optional, allow_fuzzy=False)
            if optional.terms:
                groups.append(optional)
        return groups

    def analyse(self, query: str) -> list[_Group]:
        tokens = fold(query).split()
        groups: list[_Group] = []
        i = 0
        while i < len(tokens):
            pair = " ".join(tokens[i : i + 2])
            if pair in PHRASES:
                for concept in PHRASES[pair]:
                    groups += self._concept_groups(concept, None)
                i += 2
                continue
            word = tokens[i]
            i += 1
            if word in words(word, keep_stopwords=True) and word not in words(word):
                continue  # a stopword
            concept = CONCEPTS.get(word)
            if concept is not None:
                groups += self._concept_groups(concept, word)
                continue
            group = _Group()
            if self._resolve(word, W_OWN, group, allow_fuzzy=False):
                groups.append(group)
                continue
            parts = split_compound(word, self.vocabulary | frozenset(CONCEPTS))
            if parts:
                for part in parts:
                    sub = CONCEPTS.get(part)
                    groups += self._concept_groups(sub, part) if sub else self._word_group(part)
                continue
            if self._resolve(word, W_OWN, group, allow_fuzzy=True):
                groups.append(group)
            else:
                groups.append(_Group())  # an unknown word still counts against coverage
        return groups

    def _word_group(self, word: str) -> list[_Group]:
        group = _Group()
        self._resolve(word, W_OWN, group, allow_fuzzy=True)
        return [group]

    # --- ranking --------------------------------------------------------------------------------

    def search(self, query: str, limit: int = 10) -> list[Hit]:
        groups = self.analyse(query)
        required = [g for g in groups if g.required]
        if not required:
            return []
        scores: dict[int, float] = defaultdict(float)
        matched: dict[int, int] = defaultdict(int)
        for group in groups:
            best: dict[int, float] = {}
            for term, q_weight in group.terms.items():
                idf = self.idf[term]
                for doc, d_weight in self.postings[term].items():
                    value = idf * q_weight * d_weight
                    if value > best.get(doc, 0.0):
                        best[doc] = value
            share = 1.0 if group.required else OPTIONAL_SHARE
            for doc, value in best.items():
                scores[doc] += share * value
                if group.required:
                    matched[doc] += 1
        n = len(required)
        ranked = []
        for doc, score in scores.items():
            hits = matched.get(doc, 0)
            if hits == 0:
                continue
            coverage = hits / n
            extra = max(0, self.docs[doc].length - hits)
            ranked.append((score * coverage * coverage / (1 + LENGTH_PENALTY * extra), doc))
        ranked.sort(key=lambda sd: (-sd[0], self.docs[sd[1]].length, self.docs[sd[1]].key))
        top = ranked[:limit]
        norm = top[0][0] if top else 1.0
        return [
            Hit(self.docs[d].key, self.docs[d].name, self.docs[d].ozg_id, s / norm) for s, d in top
        ]
