"""XMeld benchmark: building and validating messages against the official 25.11a schemas.

Medians over --repeat whole calls, with two baselines measured in the same run on the same
message: plain ``lxml.etree.XMLSchema.validate`` with a preloaded schema, and ``xmlschema``'s
validation (catalog mapped, local files only).

- ours, validate: :meth:`hub_xmeld.schemas.XMeldSchema.validate_bytes` (safe parse with size
  limit and DTD refusal, then validation) on serialized bytes;
- ours, build + validate: the 1704 (the complete Anmeldung: applicant, partner and child,
  dwellings, Wohnungsgeber with his confirmation) built from the repository's example record
  and serialized only if valid (:func:`hub_xmeld.messages.validated`); the same for the 1706.

    python bench/xmeld.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import xmlschema
from lxml import etree

from hub.testing import as_record, sample_submission
from hub_xmeld import anmeldung, messages, schemas

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-record.json"


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def paired_ms(fns: list, repeat: int) -> list[float]:
    """Medians of ``fns`` timed in turn within each round, so drift on a busy machine hits all
    of them alike."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - t)
    return [statistics.median(t) * 1000 for t in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    directory = schemas.default_dir().resolve()
    ours = schemas.load(directory)
    plain = ours.schema  # the same compiled lxml schema, used bare
    mapping = {k: str(v) for k, v in schemas.CatalogResolver(directory).mapping.items()}
    xs = xmlschema.XMLSchema(
        str(directory / schemas.XMELD_ENTRY), uri_mapper=mapping, allow="local"
    )

    record = as_record(sample_submission())
    form = as_record(json.loads(EXAMPLE.read_text(encoding="utf-8")))
    author = messages.Authority(
        "psw:05111999",
        "Serviceportal (hub)",
        messages.PostalAddress("Marktplatz", "40213", "Düsseldorf", "2"),
        {"email": "hub@example.org"},
    )
    reader = messages.Authority.meldebehoerde(
        "051110000000",
        "Stadt Düsseldorf",
        messages.PostalAddress("Marktplatz", "40213", "Düsseldorf", "1"),
    )

    def build_1706() -> bytes:
        root = messages.bestaetigungscode_1706(
            record, "A7K-29Q", author, reader, messages.Product()
        )
        return messages.validated(root, ours)

    def build_1704() -> bytes:
        root = anmeldung.meldeschein_1704(form, author, reader, messages.Product())
        return messages.validated(root, ours)

    samples = {
        "1704 (built here)": build_1704(),
        "1706 (built here)": build_1706(),
        "1332 KoSIT reference": (
            directory / "reference-messages" / "FachspezifischBehoerdenauskunft005a-1332.xml"
        ).read_bytes(),
    }
    print(f"{args.repeat} runs each, medians")
    print(f"build + validate 1704 from a record: {median_ms(build_1704, args.repeat):.3f} ms")
    print(f"build + validate 1706 from a record: {median_ms(build_1706, args.repeat):.3f} ms")
    for label, data in samples.items():
        doc = etree.fromstring(data).getroottree()
        ours_ms, lxml_parse_ms, ours_tree_ms, lxml_ms = paired_ms(
            [
                lambda d=data: ours.validate_bytes(d),
                lambda d=data: plain.validate(etree.fromstring(d)),
                lambda d=doc: ours.issues(d),
                lambda d=doc: plain.validate(d),
            ],
            args.repeat,
        )
        xs_ms = median_ms(lambda d=data: xs.is_valid(d.decode()), max(20, args.repeat // 10))
        print(f"{label} ({len(data)} bytes):")
        print(f"  ours (safe parse + validate)      {ours_ms:.3f} ms")
        print(
            f"  lxml parse + validate             {lxml_parse_ms:.3f} ms  "
            f"(ours / this = {ours_ms / lxml_parse_ms:.2f}x)"
        )
        print(f"  ours, tree (what build uses)      {ours_tree_ms:.3f} ms")
        print(
            f"  lxml validate, preparsed          {lxml_ms:.3f} ms  "
            f"(ours tree / this = {ours_tree_ms / lxml_ms:.2f}x)"
        )
        print(f"  xmlschema is_valid                {xs_ms:.3f} ms")


if __name__ == "__main__":
    main()
