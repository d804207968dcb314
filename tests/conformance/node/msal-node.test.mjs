// @azure/msal-node ConfidentialClientApplication against the d365-harness fake Entra ID.
//
// Default code path: for the authority https://login.microsoftonline.com/{tenant} msal-node
// takes cloud-discovery AND endpoint metadata from its hard-coded tables (no instance discovery,
// no OpenID-configuration fetch) and POSTs to
// https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token?client-request-id=<guid>.
// The only non-default setting is msal-node's own HTTP hook `system.networkClient`
// (see harness.mjs). Each test builds its own application (token + throttling caches are per app).
//
// Run: node --test   (tests/conformance/run provides the server and D365_CONNECTION_ENV)

import assert from "node:assert/strict";
import { test } from "node:test";

import { ConfidentialClientApplication, ServerError } from "@azure/msal-node";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";

import { EXPECTED_AUTHORITY_HOST, HarnessNetworkClient, RESOURCE, SCOPE, harness, httpsRequest } from "./harness.mjs";

function makeApp(h, auth) {
  const networkClient = new HarnessNetworkClient({ caPem: h.caPem, hostMap: h.hostMap });
  const app = new ConfidentialClientApplication({
    auth: { clientId: h.clientId, authority: h.authority, ...auth },
    system: { networkClient },
  });
  return { app, networkClient };
}

function describeRequests(networkClient) {
  return networkClient.requests.map((r) => `${r.method} ${r.url}`).join("\n");
}

let jwksPromise;
async function jwks(h) {
  jwksPromise ??= (async () => {
    const docUrl = `${h.authority}/v2.0/.well-known/openid-configuration`;
    const doc = await httpsRequest({ url: docUrl, caPem: h.caPem, hostMap: h.hostMap });
    assert.equal(doc.status, 200, `GET ${docUrl}: ${doc.status} ${doc.text.slice(0, 300)}`);
    const { jwks_uri: jwksUri } = JSON.parse(doc.text);
    assert.ok(jwksUri?.startsWith(`${EXPECTED_AUTHORITY_HOST}/`), `jwks_uri ${jwksUri} is not on the authority host`);
    const keys = await httpsRequest({ url: jwksUri, caPem: h.caPem, hostMap: h.hostMap });
    assert.equal(keys.status, 200, `GET ${jwksUri}: ${keys.status} ${keys.text.slice(0, 300)}`);
    return JSON.parse(keys.text);
  })();
  return jwksPromise;
}

/** Validates a Dataverse app-only v1 access token like a resource server; returns its claims. */
async function validateAccessToken(h, token, { appidacr }) {
  const header = decodeProtectedHeader(token);
  assert.equal(header.alg, "RS256", JSON.stringify(header));
  assert.equal(header.typ, "JWT", JSON.stringify(header));
  assert.ok(header.kid && header.kid === header.x5t, `v1 token header needs kid == x5t: ${JSON.stringify(header)}`);
  const set = await jwks(h);
  assert.ok(
    set.keys.some((k) => k.kid === header.kid),
    `kid ${header.kid} not in JWKS (kids: ${set.keys.map((k) => k.kid).join(", ")})`,
  );
  const { payload } = await jwtVerify(token, createLocalJWKSet(set), {
    algorithms: ["RS256"],
    audience: RESOURCE,
    issuer: `https://sts.windows.net/${h.tenantId}/`,
    requiredClaims: ["exp", "iat", "nbf"],
    clockTolerance: 60,
  });
  assert.equal(payload.aud, RESOURCE);
  assert.equal(payload.tid, h.tenantId);
  assert.equal(payload.appid, h.clientId);
  assert.equal(payload.ver, "1.0");
  assert.equal(payload.appidacr, appidacr);
  assert.ok(payload.exp > Date.now() / 1000 + 300, "token expires within 5 minutes");
  return payload;
}

function assertServerError(err, code, networkClient) {
  const trail = `\nrequests:\n${describeRequests(networkClient)}`;
  assert.ok(err instanceof ServerError, `expected ServerError, got ${err?.name}: ${err?.message}${trail}`);
  assert.equal(err.errorCode, "invalid_client", `${err.message}${trail}`);
  assert.equal(err.errorNo, code, `errorNo ${err.errorNo}: ${err.message}`);
  assert.equal(err.status, 401, `status ${err.status}: ${err.message}`);
  assert.match(err.message, new RegExp(`AADSTS${code}\\b`));
  assert.match(err.message, new RegExp(`Error\\(s\\): ${code}\\b`)); // error_codes, as msal-node prints them
}

test("client secret: token validates against the fake's JWKS", async () => {
  const h = await harness();
  const { app, networkClient } = makeApp(h, { clientSecret: h.clientSecret });
  const result = await app.acquireTokenByClientCredential({ scopes: [SCOPE] });
  assert.ok(result?.accessToken, `no token; requests:\n${describeRequests(networkClient)}`);
  assert.equal(result.tokenType, "Bearer");
  assert.equal(result.fromCache, false);
  await validateAccessToken(h, result.accessToken, { appidacr: "1" });

  // msal-node's default path for login.microsoftonline.com: one POST, nothing else.
  const expectedUrl = `${EXPECTED_AUTHORITY_HOST}/${h.tenantId}/oauth2/v2.0/token`;
  assert.deepEqual(
    networkClient.requests.map((r) => `${r.method} ${r.url.split("?")[0]}`),
    [`POST ${expectedUrl}`],
    describeRequests(networkClient),
  );
  const body = new URLSearchParams(networkClient.requests[0].body);
  assert.equal(body.get("grant_type"), "client_credentials");
  assert.equal(body.get("client_id"), h.clientId);
  assert.equal(body.get("scope"), SCOPE);

  // Second call is answered from msal-node's cache (needs a sane expires_in from the server).
  const again = await app.acquireTokenByClientCredential({ scopes: [SCOPE] });
  assert.equal(again.fromCache, true);
  assert.equal(again.accessToken, result.accessToken);
  assert.equal(networkClient.requests.length, 1, describeRequests(networkClient));
});

test("certificate (PS256, x5t#S256): token validates, appidacr 2", async () => {
  const h = await harness();
  const { app, networkClient } = makeApp(h, {
    clientCertificate: { thumbprintSha256: h.certificate.thumbprintSha256, privateKey: h.certificate.keyPem },
  });
  const result = await app.acquireTokenByClientCredential({ scopes: [SCOPE] });
  assert.ok(result?.accessToken, `no token; requests:\n${describeRequests(networkClient)}`);
  const body = new URLSearchParams(networkClient.requests.at(-1).body);
  assert.equal(body.get("client_assertion_type"), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
  assert.equal(decodeProtectedHeader(body.get("client_assertion")).alg, "PS256");
  await validateAccessToken(h, result.accessToken, { appidacr: "2" });
});

test("wrong secret: ServerError invalid_client, AADSTS7000215", async () => {
  const h = await harness();
  const wrong = `wrong~${Date.now().toString(16)}${Math.random().toString(16).slice(2)}`;
  assert.notEqual(wrong, h.clientSecret);
  const { app, networkClient } = makeApp(h, { clientSecret: wrong });
  await assert.rejects(app.acquireTokenByClientCredential({ scopes: [SCOPE] }), (err) => {
    assertServerError(err, 7000215, networkClient);
    return true;
  });
});

test("expired secret: ServerError invalid_client, AADSTS7000222", async () => {
  const h = await harness();
  const { app, networkClient } = makeApp(h, { clientSecret: h.expiredSecret });
  await assert.rejects(app.acquireTokenByClientCredential({ scopes: [SCOPE] }), (err) => {
    assertServerError(err, 7000222, networkClient);
    return true;
  });
});
