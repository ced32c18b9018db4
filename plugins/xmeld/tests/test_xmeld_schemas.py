"""The official XMeld 25.11a schema set, offline through its catalog."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from hub.testing import CliState, PluginManager, build_cli
from hub_xmeld import schemas


def test_every_kosit_reference_message_is_valid(schema, xoev_dir: Path) -> None:
    files = sorted((xoev_dir / "reference-messages").glob("*.xml"))
    assert len(files) == 7
    for path in files:
        _, issues = schema.validate_bytes(path.read_bytes())
        assert issues == [], (path.name, issues)


def test_errors_name_the_line_and_the_xpath(schema, xoev_dir: Path) -> None:
    text = (
        xoev_dir / "reference-messages" / "FachspezifischBehoerdenauskunft006a-1330.xml"
    ).read_text(encoding="utf-8")
    broken = re.sub(
        r"<nachrichtentyp>\s*<code>1330</code>", "<nachrichtentyp><kode>1330</kode>", text, count=1
    )
    _, issues = schema.validate_bytes(broken.encode())
    assert issues
    first = issues[0]
    assert first.line > 20 and "nachrichtentyp" in first.path and "kode" in first.message


def test_no_network_and_no_dtds(xoev_dir: Path, tmp_path: Path, schema) -> None:
    resolver = schemas.CatalogResolver(xoev_dir)
    with pytest.raises(schemas.SchemaUnavailable, match="not in the schema catalog"):
        resolver.resolve("http://example.invalid/evil.xsd", None, None)
    doc = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    root, issues = schema.validate_bytes(doc)
    assert root is None and "dtd_forbidden" in issues[0].message


def test_schema_is_compiled_once_per_process(xoev_dir: Path) -> None:
    assert schemas.load(xoev_dir) is schemas.load(xoev_dir)


def test_missing_schema_dir_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(schemas.SchemaUnavailable, match=schemas.ENV):
        schemas.XMeldSchema(tmp_path)


def test_cli_validate(xoev_dir: Path, tmp_path: Path) -> None:
    good = xoev_dir / "reference-messages" / "FachspezifischBehoerdenauskunft005a-1332.xml"
    bad = tmp_path / "bad.xml"
    root = etree.fromstring(good.read_bytes())
    root.set("version", "2.4.3")  # the schema fixes version to 25.11a
    bad.write_bytes(etree.tostring(root))
    plugins = PluginManager()
    runner = CliRunner()
    ok = runner.invoke(
        build_cli(plugins), ["xmeld", "validate", str(good)], obj=CliState(None, plugins)
    )
    assert ok.exit_code == 0 and ok.output.strip().endswith("valid")
    failed = runner.invoke(
        build_cli(plugins), ["xmeld", "validate", str(good), str(bad)], obj=CliState(None, plugins)
    )
    assert failed.exit_code == 1
    assert f"{bad}: line 1:" in failed.output and "version" in failed.output
