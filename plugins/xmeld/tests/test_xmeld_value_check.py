"""The intake check's fast path (hub_xmeld.value_check): it may only skip building the 1704 when
building and validating it would have accepted the record."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import hub
from hub.testing import as_record, hub_config
from hub_xmeld import anmeldung, intake_check, messages, plugin, value_check

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sample-record.json"

# Values a citizen or a client might send that XMeld refuses (or that cannot become XML).
BAD = [
    "Jörg \u2603",  # a snowman: not DIN 91379
    "x" * 300,  # longer than some datatypes allow
    "2024-02-30",  # no such day
    "12345",  # too long for a house number
    "4a",  # a letter in a house number
    "a\u0001b",  # not an XML character
    "",
    " ",
    "😀",
]
GOOD = ["Łukasz", "Ærøskøbing", "Ömer-Ayşe", "1", "40213", "1999-12-31", "Straße 7"]
OPTIONAL = [
    ("moving_out_date",),
    ("previous_dwelling",),
    ("previous_dwelling", "house_number"),
    ("new_dwelling", "house_number_suffix"),
    ("person", "marital_status_since"),
    ("partner",),
    ("partner", "place_of_birth"),
    ("children",),
    ("landlord_confirmation_pdf",),
]


@pytest.fixture(scope="module")
def element_1704(schema) -> Any:
    return value_check.anmeldung_element(schema.directory)


@pytest.fixture(scope="module")
def values(schema) -> value_check.AnmeldungValues:
    checks = value_check.load(schema.directory)
    assert checks is not None, "the fast path must compile from the official schemas"
    return checks


def example() -> hub.Record:
    """The repository's example Anmeldung as a stored record."""
    return as_record(json.loads(EXAMPLE.read_text(encoding="utf-8")))


def dry_run(record: hub.Record, schema) -> Any:
    """What building and validating the 1704 says: "ok", the problems, or the exception type."""
    reader = messages.Authority.meldebehoerde(record.municipality.ars, "Meldebehörde")
    try:
        root = anmeldung.meldeschein_1704(record, intake_check.AUTHOR, reader, messages.Product())
        messages.validated(root, schema)
    except messages.MessageInvalid as exc:
        return sorted(i.path for i in exc.issues)
    except Exception as exc:
        return type(exc).__name__
    return "ok"


def through_check(record: hub.Record) -> Any:
    try:
        intake_check.check(record, None)
    except hub.IntakeRejected as exc:
        return [(p.field, p.rule) for p in exc.problems]
    except Exception as exc:
        return type(exc).__name__
    return "ok"


def string_leaves(value: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in string_leaves(v, (*path, k))]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in string_leaves(v, (*path, i))]
    return [path] if isinstance(value, str) else []


def put(payload: dict, path: tuple, value: Any) -> None:
    for step in path[:-1]:
        payload = payload[step]
    payload[path[-1]] = value


def variant(rnd: random.Random) -> hub.Record:
    """The sample Anmeldung with optional parts dropped or added and maybe one odd value."""
    record = example()
    payload = copy.deepcopy(record.payload)
    for path in OPTIONAL:
        if rnd.random() < 0.25:
            parent = payload
            for step in path[:-1]:
                parent = parent.get(step, {})
            parent.pop(path[-1], None)
    if "children" in payload and rnd.random() < 0.4:
        payload["children"] += [copy.deepcopy(payload["children"][0])] * rnd.randint(1, 3)
    if rnd.random() < 0.3:
        payload["notes"] = ["Bitte Briefkasten beschriften"] * rnd.randint(1, 2)
    if rnd.random() < 0.3:
        payload["new_dwelling"]["flat"] = rnd.choice(["3", "12R", "EG"])
    if rnd.random() < 0.3:
        payload["landlord"]["owner"] = ["Erbengemeinschaft Rhein"]
    record.payload = payload
    if rnd.random() < 0.6:  # one value changed, good or bad
        value = rnd.choice(BAD + GOOD)
        leaves = [("payload", *p) for p in string_leaves(payload)] + [
            ("applicant", name) for name in ("family_name", "given_names", "birth_name",
                                             "place_of_birth")
        ]  # fmt: skip
        where = rnd.choice(leaves)
        if where[0] == "applicant":
            setattr(record.applicant, where[1], value)
        else:
            put(payload, where[1:], value)
    return record


def test_the_fast_path_accepts_only_what_the_full_check_accepts(schema, values) -> None:
    counts = []
    for _ in range(2):  # the second pass meets shapes the first one built
        rnd = random.Random(1704)
        fast = accepted = 0
        for _ in range(600):
            record = variant(rnd)
            expected = dry_run(record, schema)
            shape, ok = values.shape_and_verdict(record)
            skipped = ok and values.known(shape)
            got = through_check(record)
            assert (got == "ok") == (expected == "ok"), (got, expected, record.payload)
            if skipped:
                fast += 1
                assert expected == "ok", f"fast path accepted what XMeld refuses: {record.payload}"
            accepted += expected == "ok"
        counts.append((fast, accepted))
    # Not vacuous: both verdicts occur, and once the shapes are known the fast path serves
    # nearly every valid record (the rest carry a value it leaves to the full check).
    (_, accepted), (fast, _) = counts
    assert 200 < accepted < 550
    assert fast > 0.9 * accepted


def test_a_known_shape_with_a_value_outside_the_standard_is_still_refused(schema, values) -> None:
    record = example()
    assert through_check(record) == "ok"
    shape, ok = values.shape_and_verdict(record)
    assert ok and values.known(shape)  # the next record of this shape skips the build
    twin = example()
    twin.payload["children"][0]["given_names"] = "Jörg \u2603"
    _, twin_ok = values.shape_and_verdict(twin)
    assert not twin_ok
    assert through_check(twin) == [("payload.children[0]", "xmeld")]
    record.applicant.family_name = "Ma\u2603"
    assert set(through_check(record)) == {("applicant", "xmeld")}  # both places it lands in


def test_an_unknown_field_or_type_means_the_full_check(values) -> None:
    record = example()
    record.payload = {**record.payload, "floor": "3"}  # no element in the 1704 for it
    assert values.shape_and_verdict(record)[1] is False
    record = example()
    record.payload["new_dwelling"]["house_number"] = 6  # a number where text belongs
    assert values.shape_and_verdict(record)[1] is False


@pytest.mark.parametrize(
    ("element", "good", "bad"),
    [
        ("identifikation/vornamen/name", ["Zoë Łucja", "Renée"], ["Jörg \u2603", "a\u0001"]),
        (
            "berechtigtePerson/bestaetigteMeldedaten/personendaten/wohnung/anschrift/"
            "anschrift.inland/hausnummer",
            ["6", "1234"],
            ["12345", "6a"],
        ),
        ("ergaenzendeMeldedaten/wohnung/datumDesBeziehens", ["2024-02-29"],
         ["2023-02-29", "1.1.2024"]),
        (
            "berechtigtePerson/bestaetigteMeldedaten/personendaten/familienstand/familienstand/code",
            ["VH", " LD "],
            ["XX", ""],
        ),
        ("ergaenzendeMeldedaten/wohnungsgeberbestaetigung", ["JVBERi0=", ""], ["JVBERi0", "!!"]),
    ],
)  # fmt: skip
def test_datatypes_compile_to_what_the_schema_says(element_1704, element, good, bad) -> None:
    simple = value_check.element_type(element_1704, element)
    check = value_check.compile_type(simple)
    assert check is not None
    for value in good:
        assert check(value), value
        assert simple.is_valid(value), value  # the schema library agrees
    for value in bad:
        assert not check(value), value


def test_verdicts_are_remembered_while_they_recur_and_then_forgotten() -> None:
    calls: list[str] = []
    memo = value_check._memoized(lambda value: calls.append(value) or True)
    assert memo("Düsseldorf") and memo("Düsseldorf")
    assert calls == ["Düsseldorf"]  # a place that repeats is checked once
    for n in range(3 * value_check._MEMO):  # a stream of names, the place now and then
        memo(f"Name {n}")
        if n % 1000 == 0:
            memo("Düsseldorf")
    assert calls.count("Düsseldorf") == 1  # still remembered: it keeps coming back
    assert calls.count("Name 0") == 1
    memo("Name 0")  # two generations later, a name seen once is forgotten
    assert calls.count("Name 0") == 2


def test_long_values_are_not_held() -> None:
    calls: list[str] = []
    memo = value_check._memoized(lambda value: calls.append(value) or True)
    pdf = "JVBERi0x" * 1000  # a Wohnungsgeberbestätigung's base64: checked, never kept
    assert memo(pdf) and memo(pdf)
    assert len(calls) == 2


def test_the_datatypes_are_read_only_where_the_hub_takes_intake(tmp_path) -> None:
    # A service runs only while the hub serves: a worker never reads the datatypes.
    xmeld = {"type": "xmeld", "send_url": "http://127.0.0.1:9/send", "account": "psw:0"}
    found: dict[str, list[str]] = {}
    for name, adapters in (("with", {"xmeld": xmeld}), ("without", {})):
        config = hub_config(
            f"sqlite:///{tmp_path / name}.db", tmp_path / "out", "t" * 16, adapters=adapters
        )
        found[name] = []
        plugin.register_services(
            register=lambda n, service, dev_only=False, seen=found[name]: seen.append(n),
            hub=SimpleNamespace(config=config),
        )
    assert found == {"with": ["xmeld_fast_check"], "without": []}
