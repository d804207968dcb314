"""MSAL Python, azure-identity and requests through `serve --proxy-listen`, with nothing but
environment variables: HTTPS_PROXY and REQUESTS_CA_BUNDLE (no host map, no getaddrinfo patch,
no `verify=`/`connection_verify=`, no authority override).

Run by tests/conformance/run in a clean environment after the pytest and node suites. Reads the
running server's connection.env (path in D365_CONNECTION_ENV). Prints one line per check and
"N passed, M failed"; exits 1 if any check failed or none ran.
"""

from __future__ import annotations

import os
import sys
import traceback


def connection_env(path: str) -> dict[str, str]:
    values = {}
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if "=" in line and not line.lstrip().startswith("#"):
                key, _, value = line.strip().partition("=")
                values[key.strip()] = value.strip()
    return values


def main() -> int:
    env = connection_env(os.environ["D365_CONNECTION_ENV"])
    if os.environ.get("HTTPS_PROXY") != env.get("HTTPS_PROXY"):
        print(f"FAIL setup: HTTPS_PROXY is {os.environ.get('HTTPS_PROXY')!r}, connection.env says {env.get('HTTPS_PROXY')!r}")
        return 1
    tenant, client_id, secret = env["D365_TENANT_ID"], env["D365_CLIENT_ID"], env["D365_CLIENT_SECRET"]
    environment = env["D365_ENVIRONMENT_URL"].rstrip("/")
    scope = f"{environment}/.default"
    results: list[tuple[str, bool, str]] = []

    def check(name, run):
        try:
            detail = run()
            results.append((name, True, detail or ""))
        except Exception:  # noqa: BLE001 - a failed check is reported, not raised
            results.append((name, False, traceback.format_exc(limit=3)))

    def msal_token():
        import msal

        app = msal.ConfidentialClientApplication(
            client_id,
            authority=f"https://login.microsoftonline.com/{tenant}",
            client_credential=secret,
        )
        answer = app.acquire_token_for_client(scopes=[scope])
        assert "access_token" in answer, {k: v for k, v in answer.items() if k != "access_token"}
        return "access token received"

    def azure_identity_token():
        from azure.identity import ClientSecretCredential

        token = ClientSecretCredential(tenant, client_id, secret).get_token(scope)
        assert token.token, "empty token"
        return "access token received"

    def who_am_i():
        import msal
        import requests

        app = msal.ConfidentialClientApplication(
            client_id,
            authority=f"https://login.microsoftonline.com/{tenant}",
            client_credential=secret,
        )
        token = app.acquire_token_for_client(scopes=[scope])["access_token"]
        answer = requests.get(
            f"{environment}/api/data/v9.2/WhoAmI",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.status_code
        assert "UserId" in answer.json(), answer.text[:200]
        return "200 with a UserId"

    def other_hosts_refused():
        import requests

        try:
            requests.get("https://example.com/", timeout=30)
        except requests.exceptions.ProxyError as error:
            assert "403" in str(error), str(error)
            return "CONNECT refused with 403"
        raise AssertionError("a request to an unserved host went through the proxy")

    check("MSAL Python acquire_token_for_client through HTTPS_PROXY", msal_token)
    check("azure-identity ClientSecretCredential.get_token through HTTPS_PROXY", azure_identity_token)
    check("requests GET WhoAmI on the environment through HTTPS_PROXY", who_am_i)
    check("the proxy refuses a host it does not serve", other_hosts_refused)

    for name, passed, detail in results:
        print(f"{'PASS' if passed else 'FAIL'} {name}: {detail.strip()}")
    failed = sum(1 for _, passed, _ in results if not passed)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
