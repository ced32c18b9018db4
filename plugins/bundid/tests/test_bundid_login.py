"""Logging in with BundID end to end: hub (SP) and simulator (IdP) as real servers on loopback."""

from __future__ import annotations

import base64
import zlib
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import etree
from sqlalchemy import update

from hub.testing import Hub, hub_config, sample_submission
from hub.testing import html_form as form
from hub_bundid import tables
from hub_bundid.constants import AKDB, CLASSIC_UI, NS
from hub_bundid.plugin import state as bundid_state


def test_metadata_as_bundid_requires_it(bundid) -> None:
    with bundid.browser() as b:
        r = b.get("/bundid/metadata")
    assert r.headers["content-type"].startswith("application/samlmetadata+xml")
    root = etree.fromstring(r.content)
    assert root.get("entityID") == "https://hub.test/bundid"
    assert root.get("validUntil") is None and root.get("ID") is None
    uses = sorted(k.get("use") for k in root.iterfind(".//md:KeyDescriptor", NS))
    assert uses == ["encryption", "signing"]
    acs = root.find(".//md:AssertionConsumerService", NS)
    assert acs.get("Binding").endswith("HTTP-POST") and acs.get("Location").endswith("/acs")


def test_login_request_carries_the_v2_extension_in_schema_order(bundid) -> None:
    with bundid.browser() as b:
        page = b.get("/bundid/login", params={"service": "99115005104000"})
    action, fields = form(page.text)
    assert action == f"{bundid.sim_url}/idp/profile/SAML2/POST/SSO"
    request = etree.fromstring(base64.b64decode(fields["SAMLRequest"]))
    children = [etree.QName(c).localname for c in request]
    assert children == ["Issuer", "Signature", "Extensions", "RequestedAuthnContext"]
    ext = request.find("samlp:Extensions/akdb:AuthenticationRequest", NS)
    assert ext.get("Version") == "2"
    assert [etree.QName(c).localname for c in ext] == [
        "AuthnMethods",
        "RequestedAttributes",
        "DisplayInformation",
    ]
    ui = ext.find("akdb:DisplayInformation/classic-ui:Version", NS)
    assert [etree.QName(c).localname for c in ui] == [
        "OrganizationDisplayName",
        "Lang",
        "OnlineServiceId",
    ]
    assert ui.find(f"{{{CLASSIC_UI}}}OrganizationDisplayName").text == "Stadt Musterstadt"
    assert (
        ext.find(f"{{{AKDB}}}RequestedAttributes/{{{AKDB}}}RequestedAttribute").get(
            "RequiredAttribute"
        )
        == "true"
    )
    context = request.find("samlp:RequestedAuthnContext", NS)
    assert context.get("Comparison") == "minimum"
    assert context[0].text == "STORK-QAA-Level-3"  # Wohnsitz needs substantiell
    sig = request.find("ds:Signature/ds:SignedInfo/ds:SignatureMethod", NS)
    assert sig.get("Algorithm").endswith("rsa-sha256")


def test_eid_login_gives_a_session_and_me(bundid) -> None:
    with bundid.browser() as b:
        acs = bundid.login("eid", browser=b)
        assert acs.status_code == 303 and acs.headers["location"] == "/bundid/me"
        cookie = acs.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        me = b.get("/bundid/me").json()
    assert me["identity"] == {
        "method": "bundid",
        "trust_level": "hoch",
        "bpk2": "k2jBT0cykDVqiKWia1VMzqmntTu-EwGskIYlcCIGt_8",
        "mailbox_uuid": None,  # not requested by default
        "application_id": None,
    }
    assert me["login_method"] == "eID" and me["stork_level"] == "STORK-QAA-Level-4"
    assert me["attributes"]["postalAddress"] == {"value": "HEIDESTRAẞE 17", "trust_level": "hoch"}
    assert me["attributes"]["bPK2"]["trust_level"] == "normal"
    assert me["applicant"]["nationality"] == "DEU"


def test_redirect_binding_and_elster(bundid) -> None:
    with bundid.browser() as b:
        start = b.get("/bundid/login", params={"binding": "redirect"})
        query = parse_qs(urlsplit(start.headers["location"]).query)
        assert set(query) == {"SAMLRequest", "RelayState", "SigAlg", "Signature"}
        xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)
        assert b"akdb:AuthenticationRequest" in xml and b"<ds:Signature" not in xml
        acs = bundid.login("elster", binding="redirect", browser=b)
        assert acs.status_code == 303
        assert b.get("/bundid/me").json()["identity"]["trust_level"] == "substantiell"


def test_records_in_a_session_get_the_applicant_from_bundid(bundid) -> None:
    with bundid.browser() as b:
        bundid.login("eid", browser=b)
        data = sample_submission()
        data["applicant"]["family_name"] = "Falschname"
        r = b.post("/v1/records", json=data, headers={"Authorization": f"Bearer {bundid.token}"})
        assert r.status_code == 202, r.text
        rec = b.get(
            r.headers["location"], headers={"Authorization": f"Bearer {bundid.token}"}
        ).json()
    applicant = rec["applicant"]
    assert applicant["family_name"] == "MUSTERMANN"  # the login's value, not the client's
    assert applicant["address"]["street"] == "HEIDESTRAẞE 17"
    assert applicant["identity"]["method"] == "bundid"
    assert applicant["identity"]["bpk2"] == "k2jBT0cykDVqiKWia1VMzqmntTu-EwGskIYlcCIGt_8"


def test_a_service_needing_a_higher_level_is_refused(bundid) -> None:
    with bundid.browser() as b:
        bundid.login("elster", browser=b)  # substantiell
        data = sample_submission(service={"leika_key": "99008001012000"})  # needs hoch
        r = b.post("/v1/records", json=data, headers={"Authorization": f"Bearer {bundid.token}"})
    assert r.status_code == 403
    assert r.json()["errors"][0] == {
        "field": "applicant.identity.trust_level",
        "rule": "trust_level_insufficient",
        "message": "this service needs a BundID login at level 'hoch'; the session has "
        "'substantiell'",
    }
    assert sum(bundid.live.hub.store.count_by_status().values()) == 0


def test_login_below_the_requested_level_is_refused_by_the_idp(bundid) -> None:
    acs = bundid.login("benutzername", service="99008001012000")
    assert acs.status_code == 400
    assert acs.json()["type"] == "urn:hub:problem:bundid-no_authn_context"


@pytest.mark.parametrize(
    ("persona", "code"),
    [
        ("cancel", "user_cancelled"),
        ("required_missing", "required_attributes_missing"),
        ("no_authn_context", "no_authn_context"),
    ],
)
def test_error_statuses_become_understandable_messages(bundid, persona, code) -> None:
    acs = bundid.login(persona)
    assert acs.status_code == 400
    assert acs.json()["type"] == f"urn:hub:problem:bundid-{code}"
    with bundid.browser() as b:
        assert b.get("/bundid/me").status_code == 401


def test_html_error_page_for_people(bundid) -> None:
    page = bundid.login("cancel", accept="text/html")
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert "<html lang=de>" in page.text and "Die Anmeldung wurde abgebrochen." in page.text
    assert 'href="/bundid/login"' in page.text  # a way back
    assert "user_cancelled" in page.text  # the code, for the support desk


@pytest.mark.parametrize(
    "bundid", [{"legacy": True, "settings": {"legacy_algorithms": True}}], indirect=True
)
def test_legacy_rsa_sha256_and_aes_cbc_path(bundid) -> None:
    with bundid.browser() as b:
        assert bundid.login("eid", browser=b).status_code == 303
        assert b.get("/bundid/me").status_code == 200


@pytest.mark.parametrize("bundid", [{"legacy": True}], indirect=True)
def test_legacy_algorithms_are_refused_unless_configured(bundid) -> None:
    with bundid.browser() as b:
        refused = bundid.login("eid", browser=b)
        assert refused.status_code == 400
        assert refused.json()["type"] == "urn:hub:problem:bundid-signature_algorithm"
        assert b.get("/bundid/me").status_code == 401


def test_the_same_response_cannot_be_posted_twice(bundid) -> None:
    with bundid.browser() as b:
        action, fields = bundid.answer("eid", browser=b)
        started = b.cookies.get("hub_bundid_login")
        assert b.post(action, data=fields).status_code == 303
        assert "hub_bundid_login" not in b.cookies  # used up with the login
        again = b.post(action, data=fields, headers={"Accept": "application/json"})
        assert again.json()["type"] == "urn:hub:problem:bundid-login_not_started"
        # Even with the login cookie kept, the assertion counts once only.
        b.cookies.set("hub_bundid_login", started, path="/bundid")
        again = b.post(action, data=fields, headers={"Accept": "application/json"})
    assert again.status_code == 400
    assert again.json()["type"] == "urn:hub:problem:bundid-replayed"


def test_tampered_relay_state_and_foreign_next(bundid) -> None:
    with bundid.browser() as b:
        _, back = bundid.answer("eid", browser=b, next_path="https://evil.example/steal")
        tampered = dict(back, RelayState=back["RelayState"][:-2] + "xx")
        bad = b.post("/bundid/acs", data=tampered, headers={"Accept": "application/json"})
        assert bad.json()["type"] == "urn:hub:problem:bundid-relay_state_invalid"
        good = b.post("/bundid/acs", data=back)
    assert good.status_code == 303 and good.headers["location"] == "/bundid/me"  # not evil


def test_idle_timeout_ends_the_session(bundid) -> None:
    with bundid.browser() as b:
        bundid.login("eid", browser=b)  # hoch: 5 minutes idle
        assert b.get("/bundid/me").status_code == 200
        from datetime import timedelta

        from hub import utcnow

        with bundid.live.hub.store.transaction() as conn:
            conn.execute(update(tables.sessions).values(last_seen=utcnow() - timedelta(minutes=6)))
        assert b.get("/bundid/me").status_code == 401
        r = b.post("/bundid/logout")
        assert r.status_code == 200


def test_logout(bundid) -> None:
    with bundid.browser() as b:
        bundid.login("eid", browser=b)
        assert b.post("/bundid/logout").status_code == 200
        assert b.get("/bundid/me").status_code == 401


OPTIONAL_BPK2 = {
    "settings": {
        "requested_attributes": [
            {"name": "bPK2"},
            {"name": "givenName"},
            {"name": "surname"},
            {"name": "pseudonym"},
            {"name": "eIDAS-Issuing-Country"},
            {"name": "nationality"},
            {"name": "AssertionProvedBy"},
        ]
    }
}


@pytest.mark.parametrize("bundid", [OPTIONAL_BPK2], indirect=True)
def test_temporary_login_has_no_bpk2(bundid) -> None:
    with bundid.browser() as b:
        assert bundid.login("temporary", browser=b).status_code == 303
        me = b.get("/bundid/me").json()
    assert me["identity"]["bpk2"] is None and me["identity"]["trust_level"] == "basis"
    assert me["attributes"]["pseudonym"]["value"] == "tmp-3f2a9c1d"


@pytest.mark.parametrize("bundid", [OPTIONAL_BPK2], indirect=True)
def test_eidas_login(bundid) -> None:
    with bundid.browser() as b:
        assert bundid.login("eidas", browser=b).status_code == 303
        me = b.get("/bundid/me").json()
    assert me["login_method"] == "eIDAS"
    assert me["attributes"]["eIDAS-Issuing-Country"]["value"] == "AT"
    assert me["applicant"]["nationality"] == "AUT"


def test_required_bpk2_hides_the_temporary_login(bundid) -> None:
    acs = bundid.login("temporary")  # bPK2 is required by default
    assert acs.json()["type"] == "urn:hub:problem:bundid-required_attributes_missing"


def test_a_response_posted_from_another_browser_gets_no_session(bundid) -> None:
    """Login CSRF: an attacker starts a login, then makes the victim's browser post it."""
    with bundid.browser() as attacker:
        action, fields = bundid.answer("eid", browser=attacker)
    with bundid.browser() as victim:
        forced = victim.post(action, data=fields, headers={"Accept": "application/json"})
        assert forced.status_code == 400
        assert forced.json()["type"] == "urn:hub:problem:bundid-login_not_started"
        assert "hub_bundid" not in victim.cookies
        assert victim.get("/bundid/me").status_code == 401


def test_anonymous_login_starts_leave_nothing_in_the_database(bundid) -> None:
    from sqlalchemy import func, select

    def rows() -> int:
        with bundid.live.hub.store.reading() as conn:
            return sum(
                conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (tables.requests, tables.assertions, tables.sessions)
            )

    before = rows()
    with bundid.browser() as b:
        for _ in range(50):
            assert b.get("/bundid/login").status_code == 200
    assert rows() == before


def test_people_get_pages_and_a_logout_button_clients_get_json(bundid) -> None:
    html = {"Accept": "text/html"}
    with bundid.browser() as b:
        nobody = b.get("/bundid/me", headers=html)
        assert nobody.status_code == 401 and "Nicht angemeldet" in nobody.text
        assert 'href="/bundid/login"' in nobody.text
        bundid.login("eid", browser=b)
        page = b.get("/bundid/me", headers=html)
        assert page.headers["content-type"].startswith("text/html")
        assert "ERIKA MUSTERMANN" in page.text and "Vertrauensniveau" in page.text
        assert '<form method=post action="/bundid/logout">' in page.text
        assert "bpk2" not in page.text.lower()  # no raw identifiers for people
        assert b.get("/bundid/me").json()["identity"]["trust_level"] == "hoch"
        out = b.post("/bundid/logout", headers=html)
        assert out.status_code == 200 and "Sie sind abgemeldet" in out.text
        assert b.get("/bundid/me").status_code == 401


def test_idp_metadata_is_reread_for_a_key_rollover(bundid) -> None:
    st = bundid_state(bundid.live.hub)
    first = st.idp()
    st.settings.metadata_refresh_seconds = 0.01
    import time

    time.sleep(0.05)
    assert st.idp() is not first  # fetched again


WITH_MAILBOX = {
    "settings": {
        "requested_attributes": [
            {"name": "bPK2", "required": True},
            {"name": "givenName"},
            {"name": "surname"},
            {"name": "legacyPostkorbHandle"},
        ]
    }
}


@pytest.mark.parametrize("bundid", [WITH_MAILBOX], indirect=True)
def test_the_mailbox_handle_reaches_the_record_for_answers(bundid) -> None:
    """Requested, the Postkorb-Handle comes with the identity: answers may go to the citizen's
    BundID mailbox (FIT-Connect's replyChannel.idBundDeMailbox)."""
    with bundid.browser() as b:
        bundid.login("eid", browser=b)
        r = b.post(
            "/v1/records", json=sample_submission(),
            headers={"Authorization": f"Bearer {bundid.token}"},
        )  # fmt: skip
        rec = b.get(
            r.headers["location"], headers={"Authorization": f"Bearer {bundid.token}"}
        ).json()
    assert rec["applicant"]["identity"]["mailbox_uuid"] == "b980f78d-f5e0-45d9-8971-cc0e27f0beaf"


def test_installed_but_not_configured_bundid_reads_no_sessions(tmp_path, bundid) -> None:
    # Intake asks identity providers on every submission: an unconfigured BundID is not one.
    plain = Hub(hub_config(f"sqlite:///{tmp_path / 'hub.db'}", tmp_path / "out", bundid.token))
    try:
        assert "bundid" not in plain.registry.identity_providers
    finally:
        plain.close()
    assert "bundid" in bundid.live.hub.registry.identity_providers
