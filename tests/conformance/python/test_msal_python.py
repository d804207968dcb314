"""MSAL Python (`msal.ConfidentialClientApplication`) against the fake Entra ID.

Default code path: authority https://login.microsoftonline.com/{tenant} is a well-known host, so
MSAL skips instance discovery, GETs {authority}/v2.0/.well-known/openid-configuration while the
app object is CONSTRUCTED, and POSTs the client-credentials request to the document's
token_endpoint. The only non-default argument is MSAL's own TLS hook `verify=<harness CA>`.

MSAL keeps an HTTP cache (400s for 60 s) and a token cache per application object, so every
test builds its own app.
"""

from __future__ import annotations

import msal
import pytest
from cryptography.hazmat.primitives.serialization import NoEncryption, pkcs12


@pytest.fixture
def make_app(client_id, authority, ca_file):
    def make(client_credential) -> msal.ConfidentialClientApplication:
        return msal.ConfidentialClientApplication(
            client_id,
            client_credential=client_credential,
            authority=authority,
            verify=ca_file,  # MSAL's own hook: the `verify` of its requests.Session
        )

    return make


def _assert_token_error(result, error, code):
    assert isinstance(result, dict), result
    assert "access_token" not in result, "the fake issued a token for a bad credential"
    assert result.get("error") == error, result
    assert code in (result.get("error_codes") or []), result
    assert f"AADSTS{code}" in result.get("error_description", ""), result


def test_client_secret_gets_valid_token(make_app, client_secret, scope, validate_access_token):
    app = make_app(client_secret)
    result = app.acquire_token_for_client(scopes=[scope])
    assert "access_token" in result, f"no token: {result}"
    assert result.get("token_type", "Bearer").lower() == "bearer", result
    assert int(result["expires_in"]) > 300, result
    validate_access_token(result["access_token"], appidacr="1")

    # MSAL answers a second call from its cache: only works if the server's expires_in is sane.
    again = app.acquire_token_for_client(scopes=[scope])
    assert again.get("access_token") == result["access_token"], again
    assert again.get("token_source") == "cache", again


def test_certificate_pfx_ps256_gets_valid_token(make_app, client_certificate, scope, validate_access_token, tmp_path):
    # The modern MSAL input: a PFX. MSAL signs the client assertion with PS256 and puts
    # x5t#S256 (SHA-256 thumbprint) in its header, no x5c.
    pfx = tmp_path / "client.pfx"
    pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"conformance", client_certificate["key"], client_certificate["cert"], None, NoEncryption()
        )
    )
    app = make_app({"private_key_pfx_path": str(pfx)})
    result = app.acquire_token_for_client(scopes=[scope])
    assert "access_token" in result, f"no token: {result}"
    validate_access_token(result["access_token"], appidacr="2")


def test_wrong_secret_is_invalid_client_7000215(make_app, wrong_secret, scope):
    result = make_app(wrong_secret).acquire_token_for_client(scopes=[scope])
    _assert_token_error(result, "invalid_client", 7000215)


def test_expired_secret_is_invalid_client_7000222(make_app, expired_secret, scope):
    result = make_app(expired_secret).acquire_token_for_client(scopes=[scope])
    _assert_token_error(result, "invalid_client", 7000222)
