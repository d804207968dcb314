// dynamics-web-api (npm, v2) against the d365-harness fake Dataverse, with the token from
// @azure/msal-node and the fake Entra ID.
//
// The library is used as its README shows for Node: `serverUrl` = the environment URL,
// `onTokenRefresh` = msal-node's acquireTokenByClientCredential for `<environment>/.default`.
// Every other setting is the library default (Web API v9.2).
//
// How the library reaches the fake (read from dynamics-web-api 2.5.0, src/client/http.ts, the
// code its Node build runs): it sends every request with `https.request` through an agent of its
// own, `new https.Agent({ keepAlive: true, maxSockets: Infinity })`, kept in a module-private
// cache. It takes no agent, no `ca`, no `lookup` and no request executor from its caller, and it
// does not use `https.globalAgent`. Its one network option is `proxy` (or the `https_proxy`
// environment variable): an HTTP CONNECT tunnel through https-proxy-agent 5, trusting Node's
// default roots. We can't use it, because with a proxy the library ALSO overwrites the `Host`
// header with the proxy's host:port (`httpHeaders.host = new URL(proxy.url).host`). A server that
// routes by host, like Dataverse and this harness, then sees `Host: 127.0.0.1:<port>` inside the
// tunnel and answers 421. Its next links would also be built on the wrong base URL.
// So the hook is below the library: `routeHttpsAgentsThroughHostMap` (harness.mjs) wraps
// `https.Agent.prototype.createConnection`, so ONLY connections to the hosts in D365_HOST_MAP go to
// the mapped address/port, verify the certificate for the real name and trust only the harness
// CA. The library's URLs, Host header and request bytes are left untouched.
// (The library would honour NODE_EXTRA_CA_CERTS for the CA, since its agent uses Node's default
// roots, but nothing it offers changes where a host name connects, and the harness port is not 443.)
//
// A plain node:https client (harness.mjs `httpsRequest`) is the reference for the row ids and
// for the raw 401/403 responses.
//
// Run: node --test   (tests/conformance/run provides the server and D365_CONNECTION_ENV)

import assert from "node:assert/strict";
import { test } from "node:test";

import { ConfidentialClientApplication } from "@azure/msal-node";
import { DynamicsWebApi } from "dynamics-web-api";

import { HarnessNetworkClient, SCOPE, dataverse, httpsRequest, routeHttpsAgentsThroughHostMap } from "./harness.mjs";

// Lower-case, as Dataverse writes GUIDs in JSON.
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const API = "/api/data/v9.2";
const PAGE = 7;

// The library would pick a proxy from `https_proxy`/`http_proxy` (lower case only); keep any
// configured proxy out of these tests.
delete process.env.https_proxy;
delete process.env.http_proxy;

let setupPromise;
/** Harness + Dataverse environment, the host-map hook (once per process) and one msal-node app. */
function setup() {
  setupPromise ??= (async () => {
    const h = await dataverse();
    routeHttpsAgentsThroughHostMap({ caPem: h.caPem, hostMap: h.hostMap });
    const networkClient = new HarnessNetworkClient({ caPem: h.caPem, hostMap: h.hostMap });
    const cca = new ConfidentialClientApplication({
      auth: { clientId: h.clientId, authority: h.authority, clientSecret: h.clientSecret },
      system: { networkClient },
    });
    const acquire = () => cca.acquireTokenByClientCredential({ scopes: [SCOPE] });
    const first = await acquire();
    assert.ok(first?.accessToken, "msal-node returned no access token");
    return { h, acquire, networkClient };
  })();
  return setupPromise;
}

/** A DynamicsWebApi as the README configures it for Node: serverUrl + onTokenRefresh (msal-node). */
function makeApi(s, serverUrl = s.h.environmentUrl) {
  return new DynamicsWebApi({ serverUrl, onTokenRefresh: s.acquire });
}

async function accessToken(s) {
  return (await s.acquire()).accessToken;
}

/** GET through the plain client with the standard Web API headers; JSON parsed when there is a body. */
async function plainGet(s, url, { token, headers = {} } = {}) {
  const res = await httpsRequest({
    url,
    caPem: s.h.caPem,
    hostMap: s.h.hostMap,
    headers: {
      accept: "application/json",
      "odata-maxversion": "4.0",
      "odata-version": "4.0",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
  });
  let json;
  if (res.text) {
    try {
      json = JSON.parse(res.text);
    } catch {
      json = undefined;
    }
  }
  return { ...res, json };
}

/** All rows of `<base>/api/data/v9.2/accounts?$select=name` in pages of PAGE, following @odata.nextLink verbatim. */
async function plainAccounts(s, base = s.h.environmentUrl) {
  const token = await accessToken(s);
  const rows = [];
  const links = [];
  let url = `${base}${API}/accounts?$select=name`;
  for (let page = 0; url; page++) {
    assert.ok(page < 1000, "more than 1000 pages: the next links do not end");
    const res = await plainGet(s, url, { token, headers: { prefer: `odata.maxpagesize=${PAGE}` } });
    assert.equal(res.status, 200, `GET ${url}: ${res.status} ${res.text.slice(0, 500)}`);
    assert.equal(res.headers["preference-applied"], `odata.maxpagesize=${PAGE}`, `GET ${url}: Preference-Applied`);
    assert.ok(Array.isArray(res.json?.value), `GET ${url}: no value array: ${res.text.slice(0, 300)}`);
    assert.ok(res.json.value.length <= PAGE, `GET ${url}: ${res.json.value.length} rows in a page of ${PAGE}`);
    rows.push(...res.json.value);
    url = res.json["@odata.nextLink"];
    if (url) {
      assert.equal(res.json.value.length, PAGE, `a page before the last is short: ${res.json.value.length}`);
      links.push(url);
    }
  }
  return { rows, links };
}

function assertDistinctAccounts(rows, what) {
  const ids = rows.map((r) => r.accountid);
  for (const r of rows) {
    assert.match(String(r.accountid), GUID, `${what}: accountid ${r.accountid}`);
    assert.equal(typeof r.name, "string", `${what}: row without name: ${JSON.stringify(r)}`);
  }
  assert.equal(new Set(ids).size, ids.length, `${what}: duplicate ids`);
  assert.ok(ids.length >= 25, `${what}: only ${ids.length} accounts (the demo world generates >= 25)`);
  return ids;
}

test("callFunction('WhoAmI'): GUIDs; UserId is the application user of the app", async (t) => {
  const s = await setup();
  const api = makeApi(s);
  const who = await api.callFunction("WhoAmI");
  for (const key of ["UserId", "BusinessUnitId", "OrganizationId"]) {
    assert.match(String(who[key]), GUID, `WhoAmI.${key}: ${JSON.stringify(who)}`);
  }
  assert.equal(who.oDataContext, `${s.h.environmentUrl}${API}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`);

  // The same answer as a plain client's GET WhoAmI (the bare form the docs also use).
  const plain = await plainGet(s, `${s.h.environmentUrl}${API}/WhoAmI`, { token: await accessToken(s) });
  assert.equal(plain.status, 200, plain.text.slice(0, 500));
  assert.deepEqual(
    [plain.json.UserId, plain.json.BusinessUnitId, plain.json.OrganizationId],
    [who.UserId, who.BusinessUnitId, who.OrganizationId],
  );

  // UserId must be the systemuserid of the application user whose applicationid is the client id,
  // if the app's role can read systemuser. If it can't, the fake must refuse as Dataverse does.
  let users;
  try {
    users = await api.retrieveMultiple({
      collection: "systemusers",
      select: ["systemuserid", "applicationid"],
      filter: `applicationid eq ${s.h.clientId}`,
    });
  } catch (err) {
    assert.equal(err.status, 403, `systemusers: ${err.status} ${err.message}`);
    assert.equal(err.code, "0x80040220", err.message);
    assert.match(err.message, /prvReadUser\b/);
    t.diagnostic("the role cannot read systemuser (403 prvReadUser): UserId checked for GUID shape only");
    return;
  }
  assert.equal(users.value.length, 1, `systemusers with applicationid ${s.h.clientId}: ${JSON.stringify(users.value)}`);
  assert.equal(users.value[0].applicationid, s.h.clientId);
  assert.equal(users.value[0].systemuserid, who.UserId, "WhoAmI.UserId is not the application user's systemuserid");
});

test("accounts in pages of 7: retrieveMultiple + oDataNextLink by hand, retrieveAll, plain client: same rows", async () => {
  const s = await setup();
  const api = makeApi(s);
  const request = { collection: "accounts", select: ["name"], maxPageSize: PAGE };

  // by hand: retrieveMultiple(request, nextPageLink) for every oDataNextLink
  const byHand = [];
  const links = [];
  let response = await api.retrieveMultiple(request);
  assert.equal(response.oDataContext, `${s.h.environmentUrl}${API}/$metadata#accounts(name)`);
  for (;;) {
    assert.ok(response.value.length <= PAGE, `${response.value.length} rows in a page of ${PAGE}`);
    byHand.push(...response.value);
    if (!response.oDataNextLink) break;
    assert.equal(response.value.length, PAGE, "a page before the last is short");
    // The library turns the link into a path by removing ITS base URL, so the link must be built
    // on the URL the request was sent to (the environment URL + /api/data/v9.2/).
    assert.ok(
      response.oDataNextLink.startsWith(`${s.h.environmentUrl}${API}/accounts?`),
      `next link not on the request's base URL: ${response.oDataNextLink}`,
    );
    assert.ok(links.length < 1000, "more than 1000 pages: the next links do not end");
    links.push(response.oDataNextLink);
    response = await api.retrieveMultiple(request, response.oDataNextLink);
  }
  const byHandIds = assertDistinctAccounts(byHand, "retrieveMultiple by hand");
  assert.equal(links.length, Math.ceil(byHand.length / PAGE) - 1, "number of next links");

  const all = await api.retrieveAll(request);
  const allIds = assertDistinctAccounts(all.value, "retrieveAll");
  assert.deepEqual(allIds, byHandIds, "retrieveAll and retrieveMultiple by hand disagree");

  const plain = await plainAccounts(s);
  const plainIds = assertDistinctAccounts(plain.rows, "plain client");
  assert.deepEqual(byHandIds, plainIds, "dynamics-web-api and a plain HTTPS client got different rows");
  assert.deepEqual(links, plain.links, "dynamics-web-api and a plain HTTPS client got different next links");
  assert.deepEqual(
    byHand.map((r) => r.name),
    plain.rows.map((r) => r.name),
  );
});

test("retrieve({collection:'accounts', key, select:['name']}) returns that row", async () => {
  const s = await setup();
  const api = makeApi(s);
  const list = await api.retrieveMultiple({ collection: "accounts", select: ["name"], top: 5 });
  assert.ok(list.value.length >= 1, "no accounts");
  const wanted = list.value.at(-1);
  const row = await api.retrieve({ collection: "accounts", key: wanted.accountid, select: ["name"] });
  assert.equal(row.accountid, wanted.accountid);
  assert.equal(row.name, wanted.name);
  assert.equal(row.oDataContext, `${s.h.environmentUrl}${API}/$metadata#accounts(name)/$entity`);
  assert.match(String(row["@odata.etag"]), /^W\/"[^"]+"$/, `@odata.etag: ${row["@odata.etag"]}`);
});

test("retrieveMultiple({collection:'incidents'}) rejects: status 403, code 0x80040220, prvReadIncident", async () => {
  const s = await setup();
  const api = makeApi(s);
  const who = await api.callFunction("WhoAmI");
  await assert.rejects(api.retrieveMultiple({ collection: "incidents" }), (err) => {
    assert.equal(err.status, 403, `status ${err.status}: ${err.message}`);
    assert.equal(err.code, "0x80040220", `code ${err.code}: ${err.message}`);
    assert.match(err.message, /is missing prvReadIncident privilege\b/, err.message);
    // Dataverse names the calling application user (its systemuserid) in the message.
    assert.ok(err.message.startsWith(`Principal user (Id=${who.UserId},`), err.message);
    assert.match(err.message, /on OTC=112 for entity 'incident'/, err.message);
    return true;
  });

  // the raw response: the OData error envelope as JSON
  const raw = await plainGet(s, `${s.h.environmentUrl}${API}/incidents`, { token: await accessToken(s) });
  assert.equal(raw.status, 403, raw.text.slice(0, 500));
  assert.match(raw.headers["content-type"] ?? "", /^application\/json\b/);
  assert.equal(raw.json?.error?.code, "0x80040220", raw.text.slice(0, 500));
  assert.match(raw.json.error.message, /prvReadIncident/);
});

test("no token (plain client): 401, empty body, WWW-Authenticate challenge naming tenant and resource", async () => {
  const s = await setup();
  const challenge =
    `Bearer authorization_uri=https://login.microsoftonline.com/${s.h.tenantId}/oauth2/authorize, ` +
    `resource_id=${s.h.environmentUrl}/`;
  for (const pathAndQuery of [`${API}/WhoAmI()`, `${API}/accounts?$select=name`]) {
    const url = `${s.h.environmentUrl}${pathAndQuery}`;
    const res = await plainGet(s, url);
    assert.equal(res.status, 401, `GET ${url} without a token: ${res.status} ${res.text.slice(0, 300)}`);
    assert.equal(res.text, "", `GET ${url}: the 401 body must be empty`);
    assert.equal(res.headers["www-authenticate"], challenge, `GET ${url}: WWW-Authenticate`);
  }
});

test("dynamics-web-api with an invalid bearer token: 401 'Unexpected Error' carrying the challenge", async () => {
  const s = await setup();
  const api = new DynamicsWebApi({ serverUrl: s.h.environmentUrl, onTokenRefresh: async () => "not-a-jwt" });
  await assert.rejects(api.callFunction("WhoAmI"), (err) => {
    assert.equal(err.status, 401, `status ${err.status}: ${err.message}`);
    assert.equal(err.message, "Unexpected Error", "the 401 body must be empty");
    assert.match(
      String(err.headers?.["www-authenticate"]),
      new RegExp(`^Bearer authorization_uri=https://login\\.microsoftonline\\.com/${s.h.tenantId}/oauth2/authorize, resource_id=`),
    );
    return true;
  });
});

test("serverUrl on the .api. host: retrieveAll pages through next links built on the .api. host", async () => {
  const s = await setup();
  const api = makeApi(s, s.h.apiEnvironmentUrl);
  const first = await api.retrieveMultiple({ collection: "accounts", select: ["name"], maxPageSize: PAGE });
  assert.ok(
    first.oDataNextLink?.startsWith(`${s.h.apiEnvironmentUrl}${API}/accounts?`),
    `next link not on the .api. base URL: ${first.oDataNextLink}`,
  );
  const all = await api.retrieveAll({ collection: "accounts", select: ["name"], maxPageSize: PAGE });
  const ids = assertDistinctAccounts(all.value, "retrieveAll on the .api. host");
  const web = await makeApi(s).retrieveAll({ collection: "accounts", select: ["name"], maxPageSize: PAGE });
  assert.deepEqual(ids, web.value.map((r) => r.accountid), "the .api. host and the web host list different accounts");
});
