"""Plain ``requests`` against the fake Dataverse Web API, with an MSAL Python token from the fake Entra ID.

This is what a Python importer without a Dataverse SDK does (and what Microsoft's
PowerPlatform-Dataverse-Client does underneath): it gets an app-only token for
``<environment>/.default``, sends ``GET <environment>/api/data/v9.2/...`` with the standard OData
headers and follows ``@odata.nextLink`` as it is. The hooks are the same as for MSAL Python:
``verify=<harness CA>`` on every request, and conftest's name resolution for the hosts in
``D365_HOST_MAP``. The URLs are the real ones (``https://contoso.crm.dynamics.com``, port 443).

Expected shapes: shared/reference/dataverse.md §2.1 (401 challenge), §4.5 (0x80040220),
§6.1 (WhoAmI), §8.1-8.2 (query shape, paging), §8.5 (retrieve by id).
"""

from __future__ import annotations

import re

import msal
import pytest
import requests

API = "/api/data/v9.2"
PAGE = 7
# Lower-case, as Dataverse writes GUIDs in JSON.
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ODATA_HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}


@pytest.fixture(scope="session")
def dataverse_token(client_id, client_secret, authority, ca_file, scope, environment_url) -> str:
    app = msal.ConfidentialClientApplication(client_id, client_credential=client_secret, authority=authority, verify=ca_file)
    result = app.acquire_token_for_client(scopes=[scope])
    assert "access_token" in result, f"no token: {result}"
    return result["access_token"]


@pytest.fixture(scope="session")
def get(ca_file, dataverse_token):
    """GET with the standard Web API headers and the bearer token (``token=None``: no Authorization)."""

    def do(url: str, *, token: str | None = "default", headers: dict[str, str] | None = None) -> requests.Response:
        h = dict(ODATA_HEADERS)
        if token == "default":
            token = dataverse_token
        if token:
            h["Authorization"] = f"Bearer {token}"
        h.update(headers or {})
        return requests.get(url, headers=h, verify=ca_file, timeout=30, allow_redirects=False)

    return do


def _describe(resp: requests.Response) -> str:
    return f"GET {resp.request.url}: HTTP {resp.status_code} {resp.text[:500]}"


def _json(resp: requests.Response, status: int = 200) -> dict:
    assert resp.status_code == status, _describe(resp)
    assert resp.headers.get("Content-Type", "").startswith("application/json"), f"{_describe(resp)} ({resp.headers.get('Content-Type')})"
    assert resp.headers.get("OData-Version") == "4.0", f"{_describe(resp)}: OData-Version {resp.headers.get('OData-Version')!r}"
    return resp.json()


@pytest.fixture(scope="session")
def whoami(get, environment_url) -> dict:
    return _json(get(f"{environment_url}{API}/WhoAmI"))


@pytest.fixture(scope="session")
def unpaged_accounts(get, environment_url) -> list[dict]:
    body = _json(get(f"{environment_url}{API}/accounts?$select=name"))
    assert "@odata.nextLink" not in body, f"default page size is 5000, the demo world has fewer accounts: {body['@odata.nextLink']}"
    return body["value"]


def _page_through(get, first_url: str) -> tuple[list[dict], list[str]]:
    rows: list[dict] = []
    links: list[str] = []
    url: str | None = first_url
    while url:
        assert len(links) < 1000, "more than 1000 pages: the next links do not end"
        resp = get(url, headers={"Prefer": f"odata.maxpagesize={PAGE}"})
        body = _json(resp)
        assert resp.headers.get("Preference-Applied") == f"odata.maxpagesize={PAGE}", f"{_describe(resp)}: Preference-Applied {resp.headers.get('Preference-Applied')!r}"
        page = body["value"]
        assert len(page) <= PAGE, f"{len(page)} rows in a page of {PAGE}"
        rows.extend(page)
        url = body.get("@odata.nextLink")
        if url:
            assert len(page) == PAGE, f"a page before the last has {len(page)} rows"
            links.append(url)
    return rows, links


def _account_ids(rows: list[dict], what: str) -> list[str]:
    for row in rows:
        assert GUID.match(str(row.get("accountid"))), f"{what}: accountid {row.get('accountid')!r}"
        assert isinstance(row.get("name"), str), f"{what}: row without name: {row}"
        assert str(row.get("@odata.etag", "")).startswith('W/"'), f"{what}: @odata.etag {row.get('@odata.etag')!r}"
    ids = [row["accountid"] for row in rows]
    assert len(set(ids)) == len(ids), f"{what}: duplicate ids"
    assert len(ids) >= 25, f"{what}: only {len(ids)} accounts (the demo world generates >= 25)"
    return ids


def test_whoami(get, environment_url, whoami):
    assert whoami.get("@odata.context") == f"{environment_url}{API}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse", whoami
    for key in ("BusinessUnitId", "UserId", "OrganizationId"):
        assert GUID.match(str(whoami.get(key))), f"WhoAmI.{key}: {whoami}"
    # `WhoAmI()` (what dynamics-web-api sends) is the same function.
    assert _json(get(f"{environment_url}{API}/WhoAmI()")) == whoami


def test_accounts_paged_by_7_equal_unpaged(get, environment_url, unpaged_accounts):
    rows, links = _page_through(get, f"{environment_url}{API}/accounts?$select=name")
    paged_ids = _account_ids(rows, "paged")
    assert len(links) == -(-len(rows) // PAGE) - 1, f"{len(links)} next links for {len(rows)} rows"
    for link in links:
        # built on the base URL of the request: scheme, host and /api/data/v9.2/ of the environment
        assert link.startswith(f"{environment_url}{API}/accounts?"), link
        assert "$skiptoken=" in link, link
    assert paged_ids == _account_ids(unpaged_accounts, "unpaged"), "paging by 7 and one unpaged GET list different accounts"
    assert [r["name"] for r in rows] == [r["name"] for r in unpaged_accounts]


def test_accounts_first_page_shape(get, environment_url):
    resp = get(f"{environment_url}{API}/accounts?$select=name", headers={"Prefer": f"odata.maxpagesize={PAGE}"})
    body = _json(resp)
    assert body.get("@odata.context") == f"{environment_url}{API}/$metadata#accounts(name)", body.get("@odata.context")
    assert body.get("@odata.nextLink"), "no @odata.nextLink on the first page"
    assert len(body["value"]) == PAGE


def test_next_links_follow_the_api_host(get, api_environment_url):
    # The same environment on its .api. host: the links must stay on the host the client used.
    rows, links = _page_through(get, f"{api_environment_url}{API}/accounts?$select=name")
    _account_ids(rows, "paged on the .api. host")
    assert links, "no next link"
    for link in links:
        assert link.startswith(f"{api_environment_url}{API}/accounts?"), link


def test_retrieve_account_by_id(get, environment_url, unpaged_accounts):
    wanted = unpaged_accounts[len(unpaged_accounts) // 2]
    url = f"{environment_url}{API}/accounts({wanted['accountid']})"

    row = _json(get(url))
    assert row.get("@odata.context") == f"{environment_url}{API}/$metadata#accounts/$entity", row.get("@odata.context")
    assert row["accountid"] == wanted["accountid"]
    assert row["name"] == wanted["name"]

    selected = _json(get(f"{url}?$select=name"))
    assert selected.get("@odata.context") == f"{environment_url}{API}/$metadata#accounts(name)/$entity", selected.get("@odata.context")
    assert str(selected.get("@odata.etag", "")).startswith('W/"'), selected
    assert (selected["accountid"], selected["name"]) == (wanted["accountid"], wanted["name"])


def test_incidents_privilege_denied_403(get, environment_url, whoami):
    body = _json(get(f"{environment_url}{API}/incidents"), status=403)
    error = body.get("error") or {}
    assert error.get("code") == "0x80040220", body
    message = error.get("message", "")
    assert "is missing prvReadIncident privilege" in message, message
    # Dataverse names the calling application user (its systemuserid) and the table.
    assert message.startswith(f"Principal user (Id={whoami['UserId']},"), message
    assert "on OTC=112 for entity 'incident'" in message, message


@pytest.mark.parametrize("path", ["/WhoAmI", "/accounts?$select=name"])
def test_no_token_401_challenge(get, environment_url, tenant_id, path):
    resp = get(f"{environment_url}{API}{path}", token=None)
    assert resp.status_code == 401, _describe(resp)
    assert resp.content == b"", f"the 401 body must be empty: {resp.content[:300]!r}"
    assert resp.headers.get("WWW-Authenticate") == (
        f"Bearer authorization_uri=https://login.microsoftonline.com/{tenant_id}/oauth2/authorize, "
        f"resource_id={environment_url}/"
    ), resp.headers.get("WWW-Authenticate")
