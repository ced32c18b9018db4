"""Intake checks with the plugins installed and configured (issue 17, first step): what a
record costs between arrival and commit — validation, routing, payload schema, enrichers,
the XMeld intake check — for the sample Anmeldung routed to the xmeld adapter, the way
``hub serve`` prepares it. No HTTP, no commit: the part the plugins add.

Each Anmeldung carries names and birth dates of its own (``dispatch.named``). In the same run,
whole passes over the same records, medians over ``--runs``:

- **compiled**: what the hub does now — payload schemas checked by jsonschema-rs, the XMeld
  check's fast path (``hub_xmeld.value_check``) skipping the 1704 build for known shapes;
- **full XMeld check**: the same with the fast path off (the 1704 built and validated for
  every record, as before);
- **walking**: the compiled payload validators taken out (``jsonschema`` walks every payload).

    python bench/intake_checks.py [--records 2000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from dispatch import named  # bench/dispatch.py: an Anmeldung's own people per record

import hub
from hub.testing import Hub, hub_config
from hub_xmeld import schemas as xmeld_schemas
from hub_xmeld import value_check

ROOT = Path(__file__).resolve().parents[1]
XMELD = {
    "management_url": "http://127.0.0.1:9/management",
    "send_url": "http://127.0.0.1:9/send",
    "msgbox_url": "http://127.0.0.1:9/msgbox",
    "account": "psw:05111999",
    "author_name": "Serviceportal (bench)",
    "author_email": "hub@example.invalid",
    "test": True,
    "author_address": {"strasse": "Marktplatz", "hausnummer": "1", "postleitzahl": "40213",
                       "wohnort": "Düsseldorf"},
}  # fmt: skip


def one_pass(h: Hub, subs: list[hub.Submission]) -> float:
    t = time.perf_counter()
    for s in subs:
        h.intake.prepare(s, client="portal")
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    config = hub_config(
        f"sqlite:///{tmp / 'hub.db'}", tmp / "out", "bench-token-0123456789",
        routes=[{"leika": "991150*", "adapters": ["xmeld"]}, {"adapters": ["file"]}],
        adapters={"file": {"directory": str(tmp / "out")}, "xmeld": XMELD},
        plugins={"ozg_catalog": {"pvog_enabled": False}},
        delivery={"workers": 0},
    )  # fmt: skip
    h = Hub(config)
    h.start(intake_thread=False)
    sample = json.loads((ROOT / "examples" / "sample-record.json").read_text())
    subs = [hub.Submission.model_validate(named(sample, n)) for n in range(args.records)]
    directory = xmeld_schemas.load().directory
    fast_path = value_check.load(directory)
    one_pass(h, subs[:50])  # warm: schemas compiled, catalogue loaded, the shape known
    schemas = h.registry.payload_schemas
    compiled = dict(schemas._fast)
    found: dict[str, list[float]] = {"compiled": [], "full XMeld check": [], "walking": []}
    for _ in range(args.runs):  # alternate, so drift hits all
        schemas._fast.clear()
        found["walking"].append(one_pass(h, subs))
        schemas._fast.update(compiled)
        value_check._ready[directory] = None  # off: the intake check builds every 1704
        found["full XMeld check"].append(one_pass(h, subs))
        value_check._ready[directory] = fast_path
        found["compiled"].append(one_pass(h, subs))
    h.close()
    print(f"{args.records} Anmeldungen routed to xmeld, every bundled plugin installed")
    for name, secs in found.items():
        median = statistics.median(secs)
        print(f"  {name:<16} {1000 * median / args.records:6.3f} ms/record  "
              f"{args.records / median:8.0f} records/s  (runs "
              f"{' · '.join(f'{s:.2f}' for s in secs)} s)")  # fmt: skip
    ratio = statistics.median(found["walking"]) / statistics.median(found["compiled"])
    print(f"  walking ÷ compiled: {ratio:.2f}")
    ratio = statistics.median(found["full XMeld check"]) / statistics.median(found["compiled"])
    print(f"  full XMeld check ÷ compiled: {ratio:.2f}")


if __name__ == "__main__":
    main()
