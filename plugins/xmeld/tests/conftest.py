"""Fixtures for the xmeld plugin: the official schema set from HUB_XOEV_DIR (default
../shared/xoev beside the repository); tests that need it skip, saying so, when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest
import uvicorn

import hub
from hub.testing import as_record, free_port, sample_submission, wait_until
from hub_xmeld import messages, schemas, xta_schema
from hub_xmeld.sim import xta_gateway as xta_sim


@pytest.fixture(scope="session")
def xoev_dir() -> Path:
    directory = schemas.default_dir()
    if not (directory / schemas.XMELD_ENTRY).is_file():
        pytest.skip(f"needs the XMeld schema set; set {schemas.ENV} (looked in {directory})")
    return directory


@pytest.fixture(scope="session")
def schema(xoev_dir: Path) -> schemas.XMeldSchema:
    return schemas.load(xoev_dir)


@pytest.fixture
def record() -> hub.Record:
    return as_record(sample_submission())


@pytest.fixture
def parties() -> tuple[messages.Authority, messages.Authority]:
    author = messages.Authority(
        "psw:05111999",
        "Serviceportal Düsseldorf (hub)",
        messages.PostalAddress("Marktplatz", "40213", "Düsseldorf", "2"),
        {"email": "hub@duesseldorf.example", "phone": "+49 211 89-0"},
    )
    reader = messages.Authority.meldebehoerde(
        "051110000000",
        "Stadt Düsseldorf, Bürgerbüro",
        messages.PostalAddress("Marktplatz", "40213", "Düsseldorf", "1"),
    )
    return author, reader


@pytest.fixture
def statusmitteilung():
    """Build a 1705 as the Meldebehörde would send it (author and reader swapped)."""
    import base64

    from lxml import etree

    from hub_xmeld.schemas import XMELD_NS

    def build(
        record, parties, answers_uuid: str, code: str = "01", pdf: bytes | None = b"%PDF-1.4 test"
    ) -> bytes:
        author, reader = parties
        office = messages.Authority(
            reader.kennung,
            reader.name,
            reader.address,
            {"email": "buergerbuero@duesseldorf.example"},
        )
        root = messages.message(
            "onlinedienste.anmeldung.statusmitteilung.1705",
            "1705",
            office,
            author,
            messages.Product("Meldesoftware", "Hersteller"),
        )
        messages.identifikation(root, record)
        etree.SubElement(root, f"{{{XMELD_NS}}}aktenzeichen").text = "33-A-2026-0815"
        status = etree.SubElement(root, f"{{{XMELD_NS}}}status")
        etree.SubElement(status, "code").text = code
        if pdf:
            etree.SubElement(root, f"{{{XMELD_NS}}}pdfDokument").text = base64.b64encode(
                pdf
            ).decode()
        etree.SubElement(root, f"{{{XMELD_NS}}}fristende").text = "2026-12-01"
        origin = etree.SubElement(root, f"{{{XMELD_NS}}}ursprungsnachricht")
        etree.SubElement(origin, "nachrichtenUUID").text = answers_uuid
        kind = etree.SubElement(origin, "nachrichtentyp")
        etree.SubElement(kind, "code").text = "1704"
        etree.SubElement(origin, "erstellungszeitpunkt").text = messages.timestamp()
        return etree.tostring(root)

    return build


@pytest.fixture
def delivery(tmp_path: Path):
    """A hub on SQLite with one record, and DeliveryContexts for it by attempt number."""
    import structlog

    from hub import DeliveryContext
    from hub.testing import Hub, PluginManager, config_from_dict

    h = Hub(
        config_from_dict(
            {
                "store": {"url": f"sqlite:///{tmp_path / 'hub.db'}"},
                "routes": [{"adapters": ["file"]}],
                "adapters": {"file": {"directory": str(tmp_path / "out")}},
            }
        ),
        PluginManager(disabled={"ozg_catalog", "bundid"}),
    )
    h.start()
    import json

    example = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    rid = h.intake.submit(hub.Submission.model_validate(example), client="portal").record_id

    def ctx(attempt: int) -> DeliveryContext:
        return DeliveryContext(
            hub=h,
            record_id=rid,
            adapter="xmeld",
            attempt=attempt,
            settings={},
            http=h.http,
            log=structlog.get_logger("test").bind(record_id=rid),
        )

    yield ctx
    h.close()


EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sample-record.json"


@pytest.fixture
def anmeldung() -> hub.Record:
    """The repository's example Anmeldung (what ``make run`` submits) as a stored record."""
    import json

    return as_record(json.loads(EXAMPLE.read_text(encoding="utf-8")))


@pytest.fixture
def gateway(xoev_dir: Path):
    import threading

    gw = xta_sim.XtaGateway(xta_schema.compile_schema(xoev_dir), accounts={"psw:05111999"})
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(gw.app, host="127.0.0.1", port=port, log_config=None))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert wait_until(lambda: server.started, timeout=10)
    gw.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    yield gw
    server.should_exit = True
    thread.join(5)


@pytest.fixture
def xta_client(xoev_dir: Path):
    """An XTA client of the gateway simulator for an account (``gw.accounts`` gains it)."""
    from hub_xmeld import xta

    def make(gw, account: str) -> xta.XtaClient:
        gw.accounts.add(account)
        return xta.XtaClient(
            xoev_dir,
            management_url=f"{gw.url}/management",
            send_url=f"{gw.url}/send",
            msgbox_url=f"{gw.url}/msgbox",
            author=xta.Party(account),
            timeout=5,
        )

    return make
