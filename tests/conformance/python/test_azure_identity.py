"""azure-identity (sync) `ClientSecretCredential` / `CertificateCredential` against the fake.

The sync credentials build an MSAL Python ConfidentialClientApplication lazily on the first
get_token(), with azure-identity's own azure-core pipeline as MSAL's http_client. The request
sequence is therefore MSAL's (OIDC document, then token POST), sent through azure-core's
RequestsTransport. The only non-default argument is azure-core's TLS hook
`connection_verify=<harness CA>`; the authority is the default public cloud host.

Errors: MSAL returns the Entra error dict and azure-identity raises ClientAuthenticationError
with message "Authentication failed: {error_description}".
"""

from __future__ import annotations

import time

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CertificateCredential, ClientSecretCredential


@pytest.fixture
def secret_credential(tenant_id, client_id, authority_host, ca_file):
    def make(secret: str) -> ClientSecretCredential:
        return ClientSecretCredential(
            tenant_id,
            client_id,
            secret,
            authority=authority_host,  # == the library default, taken from connection.env
            connection_verify=ca_file,  # azure-core transport hook
        )

    return make


def _assert_auth_error(excinfo, code):
    message = str(excinfo.value)
    assert f"AADSTS{code}" in message, message
    assert message.startswith("Authentication failed: "), message


def test_client_secret_credential_gets_valid_token(secret_credential, client_secret, scope, validate_access_token):
    with secret_credential(client_secret) as credential:
        token = credential.get_token(scope)
        assert token.expires_on > time.time() + 300, token.expires_on
        validate_access_token(token.token, appidacr="1")
        # served from the credential's MSAL cache the second time
        assert credential.get_token(scope).token == token.token


def test_certificate_credential_gets_valid_token(
    tenant_id, client_id, authority_host, ca_file, client_certificate, scope, validate_access_token
):
    # certificate_path = key + certificate in one PEM. azure-identity hands MSAL the key and the
    # SHA-1 thumbprint, so the client assertion is RS256 with an `x5t` header.
    with CertificateCredential(
        tenant_id,
        client_id,
        certificate_path=str(client_certificate["combined_path"]),
        authority=authority_host,
        connection_verify=ca_file,
    ) as credential:
        token = credential.get_token(scope)
        claims = validate_access_token(token.token, appidacr="2")
        assert claims["appidacr"] == "2"


def test_client_secret_credential_wrong_secret_7000215(secret_credential, wrong_secret, scope):
    with secret_credential(wrong_secret) as credential:
        with pytest.raises(ClientAuthenticationError) as excinfo:
            credential.get_token(scope)
    _assert_auth_error(excinfo, 7000215)


def test_client_secret_credential_expired_secret_7000222(secret_credential, expired_secret, scope):
    with secret_credential(expired_secret) as credential:
        with pytest.raises(ClientAuthenticationError) as excinfo:
            credential.get_token(scope)
    _assert_auth_error(excinfo, 7000222)
