"""Shared fixtures for the client-library conformance tests.

The tests run UNMODIFIED Microsoft client libraries (msal, azure-identity) against the
d365-harness fake Entra ID. The libraries use the real authority
``https://login.microsoftonline.com/{tenant}`` and therefore their default code paths. They
reach the fake only through

* the harness CA, handed to each library through its own TLS hook (``verify=`` for MSAL
  Python, ``connection_verify=`` for azure-identity), and
* a name-resolution override for the hosts in ``D365_HOST_MAP`` (see ``_mapped_getaddrinfo``).

The Dataverse tests use ``requests`` the same way (``verify=`` + the same name resolution).

Everything about the running server comes from its ``connection.env`` (path in
``D365_CONNECTION_ENV``, or ``D365_STATE_DIR/connection.env``); the expired secret and the
client certificate come from the world file (``D365_WORLD_FILE``, default
``fixtures/worlds/demo.toml``). ``tests/conformance/run`` provides all of this. Without it every
test FAILS (it does not skip): a missing server is an error, never a pass.
"""

from __future__ import annotations

import datetime as _dt
import os
import socket
import time
import tomllib
from pathlib import Path
from typing import Any, Callable

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_WORLD_FILE = REPO_ROOT / "fixtures" / "worlds" / "demo.toml"

# The Dataverse environment the tokens are requested for. Not a credential: the fake mints
# v1 tokens for it (aud = this URL). Override with D365_CONFORMANCE_RESOURCE if needed.
RESOURCE = os.environ.get("D365_CONFORMANCE_RESOURCE", "https://contoso.crm.dynamics.com").rstrip("/")
SCOPE = f"{RESOURCE}/.default"

# The fake must impersonate the real host name; that is the point of these tests.
EXPECTED_AUTHORITY_HOST = "https://login.microsoftonline.com"

REQUIRED_KEYS = (
    "D365_AUTHORITY_HOST",
    "D365_TENANT_ID",
    "D365_CLIENT_ID",
    "D365_CLIENT_SECRET",
    "D365_CA_FILE",
    "D365_HOST_MAP",
)

# Environment variables that would silently change what the libraries do. Removed for the
# test session (see harness_network).
#  - REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE: requests lets them OVERRIDE a Session's `verify`
#    (psf/requests #3829, #4726), which would defeat MSAL Python's own `verify=` hook.
#  - regional / authority overrides would send the libraries to other hosts.
_ENV_TO_CLEAR = (
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "MSAL_FORCE_REGION",
    "REGION_NAME",
    "AZURE_REGIONAL_AUTHORITY_NAME",
    "AZURE_AUTHORITY_HOST",
)

SERVER_MISSING = (
    "d365-harness server connection is not available: {why}. "
    "These tests need a running `d365-harness serve`; run them through tests/conformance/run, "
    "which starts the server and exports D365_CONNECTION_ENV."
)


# --------------------------------------------------------------------------- connection.env


def _parse_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if key.startswith("export "):
            key = key[len("export ") :].strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value  # unknown keys are kept and ignored
    return values


def _connection_env_path() -> Path | None:
    explicit = os.environ.get("D365_CONNECTION_ENV")
    if explicit:
        return Path(explicit)
    state_dir = os.environ.get("D365_STATE_DIR")
    if state_dir:
        return Path(state_dir) / "connection.env"
    return None


def parse_host_map(text: str) -> dict[str, tuple[str, int]]:
    """``host=ip:port[,host=ip:port...]`` -> {host: (ip, port)} (hosts lower-cased)."""
    mapping: dict[str, tuple[str, int]] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        host, sep, target = item.partition("=")
        ip, colon, port = target.strip().rpartition(":")
        if not sep or not colon or not port.isdigit():
            raise ValueError(f"malformed D365_HOST_MAP entry {item!r} (want host=ip:port)")
        mapping[host.strip().rstrip(".").lower()] = (ip.strip("[]"), int(port))
    return mapping


def _load_connection() -> dict[str, str]:
    path = _connection_env_path()
    if path is None:
        pytest.fail(SERVER_MISSING.format(why="neither D365_CONNECTION_ENV nor D365_STATE_DIR is set"), pytrace=False)
    if not path.is_file():
        pytest.fail(SERVER_MISSING.format(why=f"{path} does not exist"), pytrace=False)
    conn = _parse_env_file(path)
    missing = [k for k in REQUIRED_KEYS if not conn.get(k)]
    if missing:
        pytest.fail(f"{path} lacks required keys: {', '.join(missing)}", pytrace=False)
    return conn


# --------------------------------------------------------------------------- DNS override

_real_getaddrinfo = socket.getaddrinfo
_HOST_MAP: dict[str, tuple[str, int]] = {}


def _mapped_getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002 (socket's names)
    # No client library offers a name-resolution hook, so this is the one process-level
    # override: ONLY the hosts listed in D365_HOST_MAP resolve to the harness (address AND port
    # come from the map); every other name goes to the real resolver untouched. TLS still
    # verifies the certificate for the original host name (SNI and hostname check are done by
    # urllib3/ssl on the name, not on the address).
    name = host.decode("ascii", "replace") if isinstance(host, (bytes, bytearray)) else host
    if isinstance(name, str):
        target = _HOST_MAP.get(name.rstrip(".").lower())
        if target is not None:
            return _real_getaddrinfo(target[0], target[1], family, type, proto, flags)
    return _real_getaddrinfo(host, port, family, type, proto, flags)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def conn() -> dict[str, str]:
    """The parsed connection.env of the running harness (fails if there is none)."""
    return _load_connection()


@pytest.fixture(scope="session", autouse=True)
def harness_network(conn: dict[str, str]):
    """Route the mapped hosts to the harness and check it is up (autouse: every test needs it)."""
    if conn["D365_AUTHORITY_HOST"].rstrip("/") != EXPECTED_AUTHORITY_HOST:
        pytest.fail(
            f"D365_AUTHORITY_HOST is {conn['D365_AUTHORITY_HOST']!r}; these tests require the fake "
            f"to impersonate {EXPECTED_AUTHORITY_HOST}",
            pytrace=False,
        )
    try:
        host_map = parse_host_map(conn["D365_HOST_MAP"])
    except ValueError as exc:
        pytest.fail(str(exc), pytrace=False)
    if "login.microsoftonline.com" not in host_map:
        pytest.fail(f"D365_HOST_MAP does not map login.microsoftonline.com: {conn['D365_HOST_MAP']!r}", pytrace=False)
    if not Path(conn["D365_CA_FILE"]).is_file():
        pytest.fail(f"D365_CA_FILE {conn['D365_CA_FILE']!r} does not exist", pytrace=False)

    mp = pytest.MonkeyPatch()
    for name in _ENV_TO_CLEAR:
        mp.delenv(name, raising=False)
    # Keep any configured HTTP(S) proxy away from the mapped hosts.
    for var in ("NO_PROXY", "no_proxy"):
        current = os.environ.get(var, "")
        mp.setenv(var, ",".join([h for h in (current,) if h] + sorted(host_map)))
    _HOST_MAP.clear()
    _HOST_MAP.update(host_map)
    mp.setattr(socket, "getaddrinfo", _mapped_getaddrinfo)

    health_url = f"{EXPECTED_AUTHORITY_HOST}/_harness/health"
    try:
        resp = requests.get(health_url, verify=conn["D365_CA_FILE"], timeout=10)
    except requests.RequestException as exc:
        mp.undo()
        pytest.fail(SERVER_MISSING.format(why=f"GET {health_url} via {host_map['login.microsoftonline.com']} failed: {exc}"), pytrace=False)
    if resp.status_code != 200:
        mp.undo()
        pytest.fail(f"GET {health_url} answered {resp.status_code}: {resp.text[:500]}", pytrace=False)
    try:
        yield host_map
    finally:
        mp.undo()
        _HOST_MAP.clear()


@pytest.fixture(scope="session")
def ca_file(conn) -> str:
    return conn["D365_CA_FILE"]


@pytest.fixture(scope="session")
def tenant_id(conn) -> str:
    return conn["D365_TENANT_ID"]


@pytest.fixture(scope="session")
def client_id(conn) -> str:
    return conn["D365_CLIENT_ID"]


@pytest.fixture(scope="session")
def client_secret(conn) -> str:
    return conn["D365_CLIENT_SECRET"]


@pytest.fixture(scope="session")
def authority_host(conn) -> str:
    return conn["D365_AUTHORITY_HOST"].rstrip("/")


@pytest.fixture(scope="session")
def authority(authority_host, tenant_id) -> str:
    return f"{authority_host}/{tenant_id}"


@pytest.fixture(scope="session")
def scope() -> str:
    return SCOPE


@pytest.fixture(scope="session")
def environment_url(conn, harness_network) -> str:
    """The fake Dataverse environment (D365_ENVIRONMENT_URL, no trailing slash). It must be RESOURCE
    and D365_HOST_MAP must map its host. Fails (no skip) when the server does not serve Dataverse."""
    raw = conn.get("D365_ENVIRONMENT_URL")
    if not raw:
        pytest.fail(
            "connection.env has no D365_ENVIRONMENT_URL: this `d365-harness serve` does not serve the fake Dataverse",
            pytrace=False,
        )
    url = raw.rstrip("/")
    if url != RESOURCE:
        pytest.fail(f"D365_ENVIRONMENT_URL is {url!r}; these tests expect {RESOURCE!r} (D365_CONFORMANCE_RESOURCE)", pytrace=False)
    host = url.split("://", 1)[1].lower()
    if host not in harness_network:
        pytest.fail(f"D365_HOST_MAP does not map {host}: {conn['D365_HOST_MAP']!r}", pytrace=False)
    return url


@pytest.fixture(scope="session")
def api_environment_url(environment_url, conn, harness_network) -> str:
    """The same environment on its `.api.` host (`https://contoso.api.crm.dynamics.com`)."""
    org, _, rest = environment_url.split("://", 1)[1].partition(".")
    host = f"{org}.api.{rest}".lower()
    if host not in harness_network:
        pytest.fail(f"D365_HOST_MAP does not map {host}: {conn['D365_HOST_MAP']!r}", pytrace=False)
    return f"https://{host}"


@pytest.fixture
def wrong_secret(client_secret) -> str:
    # Not any registered secret of the app; unique per test.
    value = f"wrong~{os.urandom(8).hex()}"
    assert value != client_secret
    return value


# --------------------------------------------------------------------------- world file


@pytest.fixture(scope="session")
def world_file() -> Path:
    path = Path(os.environ.get("D365_WORLD_FILE") or DEFAULT_WORLD_FILE)
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.is_file():
        pytest.fail(f"world file {path} not found", pytrace=False)
    return path


@pytest.fixture(scope="session")
def world_app(world_file, client_id) -> dict[str, Any]:
    """The app registration of the world whose client_id is D365_CLIENT_ID."""
    world = tomllib.loads(world_file.read_text(encoding="utf-8"))
    for name, app in (world.get("apps") or {}).items():
        if str(app.get("client_id", "")).lower() == client_id.lower():
            return {"name": name, **app}
    pytest.fail(f"no app with client_id {client_id} in {world_file}", pytrace=False)


def _parse_time(value: Any) -> _dt.datetime:
    if isinstance(value, _dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)
    return _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@pytest.fixture(scope="session")
def expired_secret(world_app, client_secret) -> str:
    """The value of a secret of the app that has expired (the world's `expired` secret)."""
    now = _dt.datetime.now(_dt.timezone.utc)
    for secret in world_app.get("secrets") or []:
        if secret.get("expires") and _parse_time(secret["expires"]) < now:
            assert secret["value"] != client_secret, "connection.env hands out an expired secret"
            return secret["value"]
    pytest.fail(f"app {world_app['name']!r} has no expired secret in the world file", pytrace=False)


@pytest.fixture(scope="session")
def client_certificate(world_file, world_app) -> dict[str, Any]:
    """The app's certificate: paths and PEMs of the cert, its private key and key+cert combined.

    The world lists the public certificate (`X.crt.pem`, relative to the world file); the private
    key is its sibling `X.key.pem` and the combined PEM `X.pem`.
    """
    certs = world_app.get("certificates") or []
    if not certs:
        pytest.fail(f"app {world_app['name']!r} has no certificate in {world_file}", pytrace=False)
    cert_path = (world_file.parent / certs[0]["file"]).resolve()
    base = cert_path.name[: -len(".crt.pem")] if cert_path.name.endswith(".crt.pem") else cert_path.stem
    key_path = cert_path.with_name(base + ".key.pem")
    combined_path = cert_path.with_name(base + ".pem")
    for p in (cert_path, key_path, combined_path):
        if not p.is_file():
            pytest.fail(f"certificate file {p} is missing", pytrace=False)
    cert_pem = cert_path.read_bytes()
    key_pem = key_path.read_bytes()
    cert = x509.load_pem_x509_certificate(cert_pem)
    key = serialization.load_pem_private_key(key_pem, password=None)
    combined = combined_path.read_bytes()
    combined_cert = x509.load_pem_x509_certificate(combined)
    combined_key = serialization.load_pem_private_key(combined, password=None)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    pub = lambda k: k.public_bytes(serialization.Encoding.DER, spki)  # noqa: E731
    assert combined_cert == cert, f"{combined_path} holds another certificate than {cert_path}"
    assert pub(key.public_key()) == pub(cert.public_key()) == pub(combined_key.public_key()), "key does not match the certificate"
    return {
        "cert_path": cert_path,
        "key_path": key_path,
        "combined_path": combined_path,
        "cert_pem": cert_pem.decode("ascii"),
        "key_pem": key_pem.decode("ascii"),
        "cert": cert,
        "key": key,
    }


# --------------------------------------------------------------------------- token validation


@pytest.fixture(scope="session")
def openid_configuration(authority, ca_file) -> dict[str, Any]:
    url = f"{authority}/v2.0/.well-known/openid-configuration"
    resp = requests.get(url, verify=ca_file, timeout=10)
    assert resp.status_code == 200, f"GET {url}: {resp.status_code} {resp.text[:500]}"
    return resp.json()


@pytest.fixture(scope="session")
def jwks(openid_configuration, ca_file) -> dict[str, Any]:
    url = openid_configuration["jwks_uri"]
    assert url.startswith(f"{EXPECTED_AUTHORITY_HOST}/"), f"jwks_uri {url!r} is not on the authority host"
    resp = requests.get(url, verify=ca_file, timeout=10)
    assert resp.status_code == 200, f"GET {url}: {resp.status_code} {resp.text[:500]}"
    body = resp.json()
    assert isinstance(body.get("keys"), list) and body["keys"], f"JWKS at {url} has no keys: {body}"
    return body


@pytest.fixture(scope="session")
def validate_access_token(jwks, tenant_id, client_id) -> Callable[..., dict[str, Any]]:
    """Validate a Dataverse app-only access token as a resource server would; return its claims."""

    def validate(token: str, *, appidacr: str) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        assert header.get("alg") == "RS256", f"token header {header}"
        assert header.get("typ") == "JWT", f"token header {header}"
        assert header.get("kid") and header.get("kid") == header.get("x5t"), f"v1 token header needs kid == x5t: {header}"
        matching = [k for k in jwks["keys"] if k.get("kid") == header["kid"]]
        assert matching, f"kid {header['kid']} not in JWKS (kids: {[k.get('kid') for k in jwks['keys']]})"
        key = jwt.PyJWK.from_dict(matching[0], algorithm="RS256")
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            audience=RESOURCE,
            issuer=f"https://sts.windows.net/{tenant_id}/",
            options={"require": ["aud", "iss", "exp", "iat", "nbf"]},
            leeway=60,
        )
        assert claims["aud"] == RESOURCE
        assert claims["tid"] == tenant_id
        assert claims["appid"] == client_id
        assert claims["ver"] == "1.0"
        assert claims.get("appidacr") == appidacr, f"appidacr {claims.get('appidacr')!r}, want {appidacr!r}"
        assert claims["exp"] > time.time() + 300, "token expires within 5 minutes"
        return claims

    return validate
