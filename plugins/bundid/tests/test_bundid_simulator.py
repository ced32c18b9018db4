"""The simulator holds SPs to the real IdP's request rules, with its error codes."""

from __future__ import annotations

import base64

import httpx
import pytest
from lxml import etree

from hub.testing import free_port
from hub.testing import html_form as form
from hub_bundid import keys, messages, xmlenc
from hub_bundid.constants import AKDB, CLASSIC_UI, NS, OID_OF
from hub_bundid.sim.server import Simulator, SimulatorConfig, SimulatorServer


@pytest.fixture
def sim(key_material):
    sign = keys.load(key_material / "sp-signing.key", key_material / "sp-signing.crt", "s")
    enc = keys.load(key_material / "sp-encryption.key", key_material / "sp-encryption.crt", "e")
    port = free_port()
    simulator = Simulator(
        SimulatorConfig(
            base_url=f"http://127.0.0.1:{port}",
            sp_certs=[sign.cert_pem],
            sp_encryption_cert=enc.cert_pem,
            auto_persona="eid",
        )
    )
    server = SimulatorServer(simulator, "127.0.0.1", port)
    server.start()
    yield simulator, sign, enc
    server.stop()


def request(simulator, attrs=("bPK2", "givenName"), methods=("eID",)):
    spec = messages.AuthnRequestSpec(
        "https://hub.test/bundid",
        "https://hub.test/bundid/acs",
        f"{simulator.config.base_url}/idp/profile/SAML2/POST/SSO",
        1,
        [messages.RequestedAttribute(OID_OF[a], a == "bPK2") for a in attrs],
        list(methods),
        "Stadt Musterstadt",
        "BMI-A0001",
    )
    return messages.build_authn_request(spec)


def send(simulator, xml, sign_with=None) -> httpx.Response:
    value = (
        messages.post_form_value(xml, sign_with)
        if sign_with
        else base64.b64encode(etree.tostring(xml)).decode()
    )
    return httpx.post(
        f"{simulator.config.base_url}/idp/profile/SAML2/POST/SSO",
        data={"SAMLRequest": value, "RelayState": "r"},
    )


def status_message(page: str) -> str:
    _, fields = form(page)
    root = etree.fromstring(base64.b64decode(fields["SAMLResponse"]))
    return root.find("samlp:Status/samlp:StatusMessage", NS).text


def test_metadata_at_the_entity_id(sim) -> None:
    simulator, *_ = sim
    r = httpx.get(simulator.config.entity_id)
    meta = messages.read_idp_metadata(r.content)
    assert etree.fromstring(r.content).tag.endswith("EntitiesDescriptor")
    assert meta.entity_id == simulator.config.entity_id
    assert meta.sso_post.endswith("/idp/profile/SAML2/POST/SSO")
    assert meta.sso_redirect.endswith("/idp/profile/SAML2/Redirect/SSO")


def test_only_requested_attributes_come_back(sim) -> None:
    simulator, sign, enc = sim
    page = send(simulator, request(simulator), sign)
    _, fields = form(page.text)
    response = etree.fromstring(base64.b64decode(fields["SAMLResponse"]))
    assertion = xmlenc.decrypt_assertion(response.find("saml2:EncryptedAssertion", NS), enc)
    names = {a.get("FriendlyName") for a in assertion.iterfind(".//saml2:Attribute", NS)}
    assert names == {"bPK2", "givenName"}
    value = assertion.find(".//saml2:AttributeValue", NS)
    assert value.get("{http://www.w3.org/2001/XMLSchema-instance}type") == "xsd:string"


def test_unsigned_request(sim) -> None:
    simulator, *_ = sim
    assert status_message(send(simulator, request(simulator)).text) == "saml-request-not-signed"


def _without(xml, path):
    el = xml.find(path, NS)
    el.getparent().remove(el)
    return xml


@pytest.mark.parametrize(
    ("mutate", "code", "as_response"),
    [
        (lambda x: _without(x, "samlp:Extensions"), "akdb-extension-missing", False),
        (
            lambda x: x.find("samlp:Extensions/akdb:AuthenticationRequest", NS).set("Version", "1"),
            "akdb-extension-v1-deprecated",
            True,
        ),
        (
            lambda x: [
                e.getparent().remove(e) for e in x.findall(f".//{{{AKDB}}}RequestedAttribute")
            ],
            "requested-attributes-empty",
            True,
        ),
        (
            lambda x: x.find(f".//{{{AKDB}}}RequestedAttribute").attrib.pop("Name"),
            "requested-attributes-missing-name",
            False,
        ),
        (
            lambda x: _without(x, f".//{{{CLASSIC_UI}}}OrganizationDisplayName"),
            "organization-display-name-missing",
            True,
        ),
        (
            lambda x: [e.getparent().remove(e) for e in list(x.find(f".//{{{AKDB}}}AuthnMethods"))],
            "empty-authentication-methods",
            False,
        ),
    ],
)
def test_request_rules(sim, mutate, code, as_response) -> None:
    simulator, sign, _ = sim
    xml = request(simulator)
    mutate(xml)
    page = send(simulator, xml, sign)
    if as_response:  # the real IdP answers these with a SAML Response to the ACS
        assert status_message(page.text) == code
    else:  # the others end on the IdP's error page
        assert page.status_code == 400 and page.headers["x-idp-code"] == code


def test_request_signed_by_a_stranger(sim) -> None:
    simulator, *_ = sim
    page = send(simulator, request(simulator), keys.generate("stranger", bits=2048))
    assert page.status_code == 400 and page.headers["x-idp-code"] == "signature_invalid"
