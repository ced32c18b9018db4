"""Plugin discovery through entry points, blocking, and validation of what plugins register."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

import hub
from hub.core.errors import ConfigurationError
from hub.core.hub import Hub
from hub.core.plugins import PluginManager
from hub.testing import sample_submission

from .conftest import TOKEN

HUB = [sys.executable, "-m", "hub"]


def run_hub(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    return subprocess.run(
        [*HUB, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def test_builtin_adapters_come_through_entry_points() -> None:
    infos = {i.name: i for i in PluginManager().describe()}
    assert infos["file"].distribution == "kommunal-hub"
    assert infos["file"].hooks == ("register_adapters", "register_settings")
    assert infos["webhook"].version == hub.__version__


def test_disable_plugins_env_blocks_them_before_import() -> None:
    result = run_hub("plugins", "--json", env={"HUB_DISABLE_PLUGINS": "webhook, nothing"})
    assert result.returncode == 0, result.stderr
    names = {p["name"] for p in json.loads(result.stdout)}
    assert "file" in names and "webhook" not in names


def test_hub_refuses_config_naming_a_disabled_adapter(make_config) -> None:
    cfg = make_config(
        routes=[{"adapters": ["w"]}],
        adapters={"w": {"type": "webhook", "url": "http://x", "secret": "env:X"}},
    )
    with pytest.raises(ConfigurationError, match="no plugin provides adapter type 'webhook'"):
        Hub(cfg, PluginManager(disabled={"webhook"}))


def test_an_installed_third_party_plugin_is_found_and_adds_a_command(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "acme_plugin.py").write_text(
        textwrap.dedent("""
        import click
        import hub

        @hub.hookimpl
        def register_adapters(register):
            register("acme", lambda settings, hub_: object())

        @hub.hookimpl
        def register_commands(cli):
            @cli.command("acme-hello")
            def hello():
                click.echo("hello from acme")
    """)
    )
    dist = site / "acme_plugin-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-plugin\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text("[hub]\nacme = acme_plugin\n")
    env = {"PYTHONPATH": str(site)}
    listed = run_hub("plugins", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    acme = next(p for p in json.loads(listed.stdout) if p["name"] == "acme")
    assert acme == {
        "name": "acme",
        "distribution": "acme-plugin",
        "version": "1.2.3",
        "hooks": ["register_adapters", "register_commands"],
        "adapter_types": ["acme"],  # what it registers, not only which hooks it has
        "channel_types": [],
        "enrichers": [],
    }
    hello = run_hub("acme-hello", env=env)
    assert hello.returncode == 0 and hello.stdout.strip() == "hello from acme"


def test_misspelled_hook_is_refused() -> None:
    class Typo:
        @hub.hookimpl
        def register_adaptors(self, register: Any) -> None:  # sic
            pass

    pm = PluginManager(load_entrypoints=False)
    with pytest.raises(ConfigurationError, match="register_adaptors"):
        pm.register(Typo(), name="typo")


class Registers:
    def __init__(self, **calls: Any):
        self.calls = calls

    @hub.hookimpl
    def register_adapters(self, register: Any) -> None:
        for name in self.calls.get("adapters", []):
            register(name, lambda s, h: object())

    @hub.hookimpl
    def register_payload_schemas(self, register: Any) -> None:
        for pattern, schema in self.calls.get("schemas", []):
            register(pattern, schema)

    @hub.hookimpl
    def register_enrichers(self, register: Any) -> None:
        if self.calls.get("explode"):
            raise RuntimeError("boom")

    @hub.hookimpl
    def register_booking_systems(self, register: Any) -> None:
        for name, system in self.calls.get("booking", []):
            register(name, system)


class HalfABookingSystem:
    def catalogue(self) -> Any:
        return hub.BookingCatalogue((), ())

    def free_slots(self, *args: Any) -> list[Any]:
        return []


@pytest.mark.parametrize(
    ("calls", "message"),
    [
        ({"adapters": ["file"]}, "adapter type 'file' is registered twice"),
        ({"adapters": ["Bad Name"]}, "must match"),
        ({"schemas": [("99115005", {})]}, "must be a 14-digit LeiKa key or a key prefix"),
        ({"schemas": [("99115005*", {"type": "no-such-type"})]}, "is invalid"),
        ({"explode": True}, "plugin 'vendor' failed in register_enrichers: RuntimeError"),
        (
            {"booking": [("rooms", HalfABookingSystem())]},
            "booking system 'rooms' has no reserve, confirm, cancel, details",
        ),
    ],
)
def test_bad_registrations_name_the_plugin(make_config, calls, message) -> None:
    pm = PluginManager()
    pm.register(Registers(**calls), name="vendor")
    with pytest.raises(ConfigurationError, match=message) as info:
        Hub(make_config(), pm)
    assert "vendor" in str(info.value)


def test_most_specific_payload_schema_wins(make_config) -> None:
    pm = PluginManager()
    pm.register(
        Registers(
            schemas=[
                ("99115*", {"required": ["a"]}),
                ("99115005*", {"required": ["b"]}),
                ("99115005104000", {"required": ["c"]}),
            ]
        ),
        name="vendor",
    )
    h = Hub(make_config(), pm)
    schemas = h.registry.payload_schemas
    assert schemas.problems("99115005104000", {})[0].message == "'c' is a required property"
    assert schemas.problems("99115005999000", {})[0].message == "'b' is a required property"
    assert schemas.problems("99115999000000", {})[0].message == "'a' is a required property"
    assert schemas.problems("99008001012000", {}) == []
    h.close()


def test_failing_status_hook_does_not_undo_the_change(make_config) -> None:
    class Grumpy:
        @hub.hookimpl
        def record_status_changed(self, record_id: str) -> None:
            raise RuntimeError("no")

    pm = PluginManager()
    pm.register(Grumpy(), name="grumpy")
    h = Hub(make_config(), pm)
    h.start()
    sub = hub.Submission.model_validate(
        {
            "service": {"leika_key": "99115005104000"},
            "municipality": {"ars": "051110000000"},
            "channel": "api",
        }
    )
    rid = h.intake.submit(sub, client="t").record_id
    assert h.store.get_record(rid).status.value == "accepted"
    h.close()


def test_a_booking_system_calling_a_booking_off_tells_the_plugins(make_config) -> None:
    """Booking systems announce their own cancellations through the hub; a listener that
    fails is logged and does not stop the others."""
    heard: list[tuple[str, str, str]] = []

    class Listener:
        @hub.hookimpl
        def booking_cancelled(self, system: str, process_id: str, reason: str) -> None:
            heard.append((system, process_id, reason))

    class Broken:
        @hub.hookimpl
        def booking_cancelled(self) -> None:
            raise RuntimeError("no")

    pm = PluginManager()
    pm.register(Listener(), name="listener")
    pm.register(Broken(), name="broken")
    h = Hub(make_config(), pm)
    h.booking_cancelled("rooms", "p-1", "Raum gesperrt")
    assert heard == [("rooms", "p-1", "Raum gesperrt")]
    h.close()


def test_lifecycle_hooks_run_and_startup_can_refuse(make_config) -> None:
    seen: list[str] = []

    class Life:
        @hub.hookimpl
        def hub_startup(self, hub: Any) -> None:
            if not hub.config.plugins.get("life", {}).get("ok"):
                raise hub_module.ConfigurationError("[plugins.life] ok is required")
            seen.append("start")

        @hub.hookimpl
        def hub_shutdown(self) -> None:
            seen.append("stop")

    hub_module = hub
    pm = PluginManager()
    pm.register(Life(), name="life")
    refused = Hub(make_config(), pm)
    with pytest.raises(ConfigurationError, match=r"\[plugins.life\] ok is required"):
        refused.start()
    refused.close()
    fine = Hub(make_config(plugins={"life": {"ok": True}}), pm)
    fine.start()
    fine.close()
    assert seen == ["start", "stop"]


def test_hooks_go_through_pluggy_ordering_wrappers_and_monitoring_work() -> None:
    """Every hook is called through pluggy: tryfirst/trylast order the implementations,
    wrapper=True implementations run around the others, call monitoring sees the calls, and
    registrations are still attributed to the plugin that made them."""
    seen: list[str] = []

    class Early:
        @hub.hookimpl
        def register_enrichers(self, register):
            register("early", lambda record, ctx: seen.append("early"))

    class Late:
        @hub.hookimpl(tryfirst=True)
        def register_enrichers(self, register):
            register("late", lambda record, ctx: seen.append("late"))

        @hub.hookimpl
        def register_adapters(self, register):
            register("late_adapter", lambda settings, h: object())

    class Around:
        @hub.hookimpl(wrapper=True)
        def register_adapters(self, register):
            seen.append("before adapters")
            result = yield
            seen.append("after adapters")
            return result

    pm = PluginManager(load_entrypoints=False)
    pm.register(Early(), name="early")
    pm.register(Late(), name="late")
    pm.register(Around(), name="around")
    calls: list[str] = []
    pm.monitor(lambda name, impls, kwargs: calls.append(name), lambda *a: None)
    registry = pm.collect(None)  # type: ignore[arg-type]
    assert [e.name for e in registry.enrichers] == ["late", "early"]  # tryfirst, not order
    assert seen == ["before adapters", "after adapters"]
    assert registry.adapter_types["late_adapter"].plugin == "late"
    assert {"register_adapters", "register_enrichers"} <= set(calls)


def test_one_failing_status_hook_does_not_stop_the_others() -> None:
    told: list[str] = []

    class Broken:
        @hub.hookimpl
        def record_status_changed(self, record_id):
            raise RuntimeError("bug in a plugin")

    class Listening:
        @hub.hookimpl
        def record_status_changed(self, record_id, status):
            told.append(f"{record_id}:{status}")

    pm = PluginManager(load_entrypoints=False)
    pm.register(Listening(), name="listening")
    pm.register(Broken(), name="broken")  # called first (pluggy: last registered first)
    pm.status_changed(None, "r1", "delivered", None, None)  # type: ignore[arg-type]
    assert told == ["r1:delivered"]


def test_registered_settings_are_checked_at_build_and_shown_in_the_schema(make_config) -> None:
    from pydantic import BaseModel, ConfigDict, Field

    from hub.core.config import HubConfig
    from hub.core.errors import ConfigurationError
    from hub.core.hub import Hub

    class AcmeSettings(BaseModel):
        model_config = ConfigDict(extra="forbid")
        tenant: str = Field(min_length=3)

    class AcmeAdapterSettings(BaseModel):
        model_config = ConfigDict(extra="forbid")
        url: str

    class Acme:
        @hub.hookimpl
        def register_adapters(self, register):
            register("acme", lambda settings, h: object())

        @hub.hookimpl
        def register_settings(self, register):
            register(AcmeSettings)
            register(AcmeAdapterSettings, adapter_type="acme")

    pm = PluginManager(load_entrypoints=False)
    pm.register(Acme(), name="acme")
    bad = make_config(
        plugins={"acme": {"tenant": "x"}},
        adapters={"crm": {"type": "acme", "colour": "blue"}},
        routes=[{"adapters": ["crm"]}],
    )
    with pytest.raises(ConfigurationError) as refused:
        Hub(bad, pm)
    text = str(refused.value)
    assert "[plugins.acme] tenant" in text and "[adapters.crm] url" in text
    assert "[adapters.crm] colour" in text  # every problem at once
    schema = pm.collect(None).settings_schema(HubConfig.model_json_schema())  # type: ignore[arg-type]
    assert schema["properties"]["plugins"]["properties"]["acme"]["required"] == ["tenant"]
    [acme] = schema["properties"]["adapters"]["additionalProperties"]["anyOf"]
    assert acme["properties"]["type"] == {"const": "acme"}


def test_status_reports_name_the_delivery_instance(make_config) -> None:
    """A plugin knows its adapter type; the history names the configured instance."""
    from hub.core.hub import Hub

    class Acme:
        @hub.hookimpl
        def register_adapters(self, register):
            register("acme", lambda settings, h: object())

        @hub.hookimpl
        def register_statuses(self, register):
            register("acme", {"received": "ACME has the case"})

    pm = PluginManager()  # the built-in file adapter too (the test config has one)
    pm.register(Acme(), name="acme")
    h = Hub(
        make_config(
            adapters={"acme_berlin": {"type": "acme"}}, routes=[{"adapters": ["acme_berlin"]}]
        ),
        pm,
    )
    h.start(intake_thread=False)
    try:
        rid = h.intake.submit(
            hub.Submission.model_validate(sample_submission()), client="portal"
        ).record_id
        assert h.report_status(rid, "acme:received", "Vorgang 1", adapter_type="acme")
        last = h.store.get_record(rid).history[-1]
        assert (last.status, last.adapter) == ("acme:received", "acme_berlin")
        # A status nobody registered is a plugin bug: refused before anything is written.
        for status in ("acme:closed", "other:received", "received"):
            with pytest.raises(ValueError, match="register"):
                h.report_status(rid, status, adapter_type="acme")
        assert h.store.get_record(rid).history[-1] == last
    finally:
        h.close()


def test_services_run_only_while_serving_and_stop_in_reverse(make_config) -> None:
    from structlog.testing import capture_logs

    from hub.core.hub import Hub

    events: list[str] = []

    class Service:
        def __init__(self, name: str):
            self.name = name

        def start(self) -> None:
            events.append(f"start {self.name}")

        def stop(self) -> None:
            events.append(f"stop {self.name}")

    class Acme:
        @hub.hookimpl
        def register_services(self, register, hub):
            register("janitor", Service("janitor"))
            register("simulator", Service("simulator"), dev_only=True)

    pm = PluginManager()
    pm.register(Acme(), name="acme")
    one_off = Hub(make_config(), pm)
    one_off.start(intake_thread=False)  # a CLI command: no services
    one_off.close()
    assert events == []
    serving = Hub(make_config(), pm)
    with capture_logs() as logs:
        serving.start()
    serving.close()
    assert events == ["start janitor", "start simulator", "stop simulator", "stop janitor"]
    warned = [e for e in logs if e["event"] == "development_service_started"]
    assert [e["service"] for e in warned] == ["simulator"]


def test_a_periodic_task_runs_at_start_and_survives_a_failing_round() -> None:
    import threading
    import time

    rounds: list[int] = []
    done = threading.Event()

    def work() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 2:
            raise RuntimeError("the store is away")
        if len(rounds) == 3:
            done.set()

    task = hub.PeriodicTask("test-task", work, 0.02, at_start=True)
    task.start()
    try:
        assert done.wait(5)  # the failed second round did not end the task
    finally:
        task.stop()
    stopped_at = len(rounds)
    time.sleep(0.1)
    assert len(rounds) == stopped_at  # stop() ends it


@pytest.mark.parametrize("blocking", [False, True])
def test_enrichers_that_never_wait_run_on_the_event_loop(make_config, plugins, blocking) -> None:
    """``blocking=False`` everywhere: intake enriches on the server's event loop; one enricher
    that may wait sends the work to a thread (the loop keeps serving other requests)."""
    from hub.testing import LiveHub

    threads: list[str] = []

    class Recorder:
        @hub.hookimpl
        def register_enrichers(self, register):
            register(
                "where",
                lambda record, ctx: threads.append(threading.current_thread().name),
                blocking=blocking,
            )

    plugins.register(Recorder(), name="recorder")  # beside the bundled ones (all non-blocking)
    with LiveHub(make_config(), plugins) as live, live.client(TOKEN) as c:
        assert c.post("/v1/records", json=sample_submission()).status_code == 202
    assert len(threads) == 1
    assert threads[0].startswith("AnyIO worker thread") is blocking
