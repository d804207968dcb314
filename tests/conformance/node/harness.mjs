// Shared helpers for the msal-node conformance tests.
//
// Everything about the running d365-harness comes from its connection.env (path in
// D365_CONNECTION_ENV, or D365_STATE_DIR/connection.env); the expired secret and the client
// certificate come from the world file (D365_WORLD_FILE, default fixtures/worlds/demo.toml).
// tests/conformance/run provides both. Without them every test FAILS with a clear message.

import { X509Certificate, createHash, createPrivateKey } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { AuthError } from "@azure/msal-node";
import { parse as parseToml } from "smol-toml";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const RESOURCE = (process.env.D365_CONFORMANCE_RESOURCE || "https://contoso.crm.dynamics.com").replace(/\/+$/, "");
export const SCOPE = `${RESOURCE}/.default`;
export const EXPECTED_AUTHORITY_HOST = "https://login.microsoftonline.com";

const REQUIRED_KEYS = [
  "D365_AUTHORITY_HOST",
  "D365_TENANT_ID",
  "D365_CLIENT_ID",
  "D365_CLIENT_SECRET",
  "D365_CA_FILE",
  "D365_HOST_MAP",
];

function serverMissing(why) {
  return new Error(
    `d365-harness server connection is not available: ${why}. These tests need a running ` +
      "`d365-harness serve`; run them through tests/conformance/run, which starts the server " +
      "and exports D365_CONNECTION_ENV.",
  );
}

export function parseEnvFile(text) {
  const values = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || !line.includes("=")) continue;
    const at = line.indexOf("=");
    let key = line.slice(0, at).trim();
    if (key.startsWith("export ")) key = key.slice(7).trim();
    let value = line.slice(at + 1).trim();
    if (value.length >= 2 && value[0] === value.at(-1) && (value[0] === '"' || value[0] === "'")) {
      value = value.slice(1, -1);
    }
    values[key] = value; // unknown keys are kept and ignored
  }
  return values;
}

/** `host=ip:port[,host=ip:port...]` -> Map(host -> {ip, port}) (hosts lower-cased). */
export function parseHostMap(text) {
  const map = new Map();
  for (const item of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const eq = item.indexOf("=");
    const target = eq < 0 ? "" : item.slice(eq + 1).trim();
    const colon = target.lastIndexOf(":");
    const port = Number(target.slice(colon + 1));
    if (eq < 0 || colon < 0 || !Number.isInteger(port) || port <= 0) {
      throw new Error(`malformed D365_HOST_MAP entry ${JSON.stringify(item)} (want host=ip:port)`);
    }
    const ip = target.slice(0, colon).replace(/^\[|\]$/g, "");
    map.set(item.slice(0, eq).trim().replace(/\.$/, "").toLowerCase(), { ip, port });
  }
  return map;
}

/**
 * An msal-node INetworkModule (`system.networkClient`, msal-node's own hook for the HTTP layer;
 * v5+ removed `customAgentOptions`/`proxyUrl`). It speaks HTTPS with node:https, trusting ONLY
 * the harness CA, and connects to the address and port that D365_HOST_MAP gives for the URL's
 * host while keeping the real host name for SNI, certificate verification and the Host header.
 * Hosts not in the map are refused (there is no network here anyway). It returns what msal-node's
 * default HttpClient returns: {headers, body: parsed JSON, status}; every request is recorded in
 * `requests` so the tests can show what msal-node sent.
 */
export class HarnessNetworkClient {
  constructor({ caPem, hostMap }) {
    this.caPem = caPem;
    this.hostMap = hostMap;
    this.requests = [];
  }

  sendGetRequestAsync(url, options, timeout) {
    return this.#send("GET", url, options, timeout);
  }

  sendPostRequestAsync(url, options) {
    return this.#send("POST", url, options);
  }

  async #send(method, url, options = {}, timeout = 30_000) {
    const headers = { ...(options.headers || {}) };
    const body = method === "POST" ? String(options.body ?? "") : undefined;
    this.requests.push({ method, url, headers, body });
    let res;
    try {
      res = await httpsRequest({ method, url, headers, body, caPem: this.caPem, hostMap: this.hostMap, timeout });
    } catch (err) {
      // An AuthError keeps the cause visible (msal-common replaces other errors by a bare
      // "network_error").
      throw new AuthError("network_error", "", `${method} ${url} failed: ${err.message}`);
    }
    let parsed;
    try {
      parsed = JSON.parse(res.text);
    } catch (err) {
      throw new AuthError(
        "token_parsing_error",
        "",
        `${method} ${url}: HTTP ${res.status}, body is not JSON: ${res.text.slice(0, 300)}`,
      );
    }
    return { headers: res.headers, body: parsed, status: res.status };
  }
}

/** One HTTPS request through the host map, trusting only `caPem`. Resolves {status, headers, text}. */
export function httpsRequest({ method = "GET", url, headers = {}, body, caPem, hostMap, timeout = 30_000 }) {
  const target = new URL(url);
  const mapped = hostMap.get(target.hostname.toLowerCase());
  if (target.protocol !== "https:") return Promise.reject(new Error(`refusing non-https URL ${url}`));
  if (!mapped) {
    return Promise.reject(new Error(`host ${target.hostname} is not in D365_HOST_MAP (the harness does not serve it)`));
  }
  const requestHeaders = { ...headers, host: target.host };
  if (body !== undefined) requestHeaders["content-length"] = Buffer.byteLength(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        method,
        host: mapped.ip,
        port: mapped.port,
        path: `${target.pathname}${target.search}`,
        servername: target.hostname, // SNI + the name the certificate is checked against
        ca: caPem, // the harness CA only (replaces the default roots for this request)
        headers: requestHeaders,
        agent: false,
        timeout,
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const flat = {};
          for (const [k, v] of Object.entries(res.headers)) flat[k] = Array.isArray(v) ? v.join(", ") : String(v);
          resolve({ status: res.statusCode, headers: flat, text: Buffer.concat(chunks).toString("utf8") });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout after ${timeout} ms`)));
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function connectionEnvPath() {
  if (process.env.D365_CONNECTION_ENV) return process.env.D365_CONNECTION_ENV;
  if (process.env.D365_STATE_DIR) return path.join(process.env.D365_STATE_DIR, "connection.env");
  return null;
}

function worldFilePath() {
  const p = process.env.D365_WORLD_FILE || path.join("fixtures", "worlds", "demo.toml");
  return path.isAbsolute(p) ? p : path.join(REPO_ROOT, p);
}

/** Loads connection.env, world, certificate; checks the health route. Rejects with a clear message. */
async function loadHarness() {
  const envPath = connectionEnvPath();
  if (!envPath) throw serverMissing("neither D365_CONNECTION_ENV nor D365_STATE_DIR is set");
  if (!existsSync(envPath)) throw serverMissing(`${envPath} does not exist`);
  const conn = parseEnvFile(readFileSync(envPath, "utf8"));
  const missing = REQUIRED_KEYS.filter((k) => !conn[k]);
  if (missing.length) throw new Error(`${envPath} lacks required keys: ${missing.join(", ")}`);
  const authorityHost = conn.D365_AUTHORITY_HOST.replace(/\/+$/, "");
  if (authorityHost !== EXPECTED_AUTHORITY_HOST) {
    throw new Error(`D365_AUTHORITY_HOST is ${authorityHost}; these tests require the fake to impersonate ${EXPECTED_AUTHORITY_HOST}`);
  }
  const hostMap = parseHostMap(conn.D365_HOST_MAP);
  if (!hostMap.has("login.microsoftonline.com")) {
    throw new Error(`D365_HOST_MAP does not map login.microsoftonline.com: ${conn.D365_HOST_MAP}`);
  }
  if (!existsSync(conn.D365_CA_FILE)) throw new Error(`D365_CA_FILE ${conn.D365_CA_FILE} does not exist`);
  const caPem = readFileSync(conn.D365_CA_FILE, "utf8");

  const healthUrl = `${EXPECTED_AUTHORITY_HOST}/_harness/health`;
  let health;
  try {
    health = await httpsRequest({ url: healthUrl, caPem, hostMap, timeout: 10_000 });
  } catch (err) {
    throw serverMissing(`GET ${healthUrl} via ${JSON.stringify(hostMap.get("login.microsoftonline.com"))} failed: ${err.message}`);
  }
  if (health.status !== 200) throw new Error(`GET ${healthUrl} answered ${health.status}: ${health.text.slice(0, 500)}`);

  // world file: the app whose client_id is D365_CLIENT_ID
  const worldPath = worldFilePath();
  if (!existsSync(worldPath)) throw new Error(`world file ${worldPath} not found`);
  const world = parseToml(readFileSync(worldPath, "utf8"));
  const app = Object.entries(world.apps || {})
    .map(([name, a]) => ({ name, ...a }))
    .find((a) => String(a.client_id || "").toLowerCase() === conn.D365_CLIENT_ID.toLowerCase());
  if (!app) throw new Error(`no app with client_id ${conn.D365_CLIENT_ID} in ${worldPath}`);

  const now = Date.now();
  const expired = (app.secrets || []).find((s) => s.expires && new Date(String(s.expires)).getTime() < now);
  if (!expired) throw new Error(`app ${app.name} has no expired secret in ${worldPath}`);
  if (expired.value === conn.D365_CLIENT_SECRET) throw new Error("connection.env hands out an expired secret");

  // The world lists the public certificate (X.crt.pem, relative to the world file); the key is X.key.pem.
  if (!app.certificates?.length) throw new Error(`app ${app.name} has no certificate in ${worldPath}`);
  const certPath = path.resolve(path.dirname(worldPath), app.certificates[0].file);
  const base = certPath.endsWith(".crt.pem") ? certPath.slice(0, -".crt.pem".length) : certPath.replace(/\.pem$/, "");
  const keyPath = `${base}.key.pem`;
  for (const p of [certPath, keyPath]) if (!existsSync(p)) throw new Error(`certificate file ${p} is missing`);
  const certPem = readFileSync(certPath, "utf8");
  const keyPem = readFileSync(keyPath, "utf8");
  const x509 = new X509Certificate(certPem);
  if (!x509.checkPrivateKey(createPrivateKey(keyPem))) throw new Error(`${keyPath} does not match ${certPath}`);
  const thumbprintSha256 = createHash("sha256").update(x509.raw).digest("hex");

  return {
    conn,
    authority: `${authorityHost}/${conn.D365_TENANT_ID}`,
    tenantId: conn.D365_TENANT_ID,
    clientId: conn.D365_CLIENT_ID,
    clientSecret: conn.D365_CLIENT_SECRET,
    expiredSecret: expired.value,
    caPem,
    hostMap,
    certificate: { certPath, keyPath, certPem, keyPem, thumbprintSha256 },
  };
}

let harnessPromise;
/** Memoised: every test awaits it, so a missing server fails every test with the same message. */
export function harness() {
  harnessPromise ??= loadHarness();
  return harnessPromise;
}

// ------------------------------------------------------------------------------- Dataverse

/**
 * The fake Dataverse environment of the running harness: `D365_ENVIRONMENT_URL` from
 * connection.env (must be RESOURCE, `https://contoso.crm.dynamics.com` unless overridden) and its
 * `.api.` host, both of which D365_HOST_MAP must map. Memoised; rejects with a clear message when
 * the server does not serve Dataverse, so every Dataverse test fails (none skips).
 */
let dataversePromise;
export function dataverse() {
  dataversePromise ??= (async () => {
    const h = await harness();
    const raw = h.conn.D365_ENVIRONMENT_URL;
    if (!raw) {
      throw new Error(
        "connection.env has no D365_ENVIRONMENT_URL: this `d365-harness serve` does not serve the fake Dataverse",
      );
    }
    const environmentUrl = raw.replace(/\/+$/, "");
    if (environmentUrl !== RESOURCE) {
      throw new Error(`D365_ENVIRONMENT_URL is ${environmentUrl}; these tests expect ${RESOURCE} (D365_CONFORMANCE_RESOURCE)`);
    }
    const web = new URL(environmentUrl);
    const [org, ...rest] = web.hostname.split(".");
    const apiEnvironmentUrl = `https://${[org, "api", ...rest].join(".")}`;
    for (const host of [web.hostname, new URL(apiEnvironmentUrl).hostname]) {
      if (!h.hostMap.has(host)) throw new Error(`D365_HOST_MAP does not map ${host}: ${h.conn.D365_HOST_MAP}`);
    }
    return { ...h, environmentUrl, apiEnvironmentUrl };
  })();
  return dataversePromise;
}

/**
 * Routes node:https connections to the hosts of D365_HOST_MAP to the harness, for clients that
 * offer no hook of their own (dynamics-web-api: see dynamics-web-api.test.mjs for why).
 *
 * It wraps `https.Agent.prototype.createConnection`, the step where an agent opens the TLS
 * socket, so it covers agents the client creates privately. ONLY a connection whose target host
 * is in the map is changed: it goes to the mapped address and port, with SNI and certificate
 * verification on the real host name (`servername`) and the harness CA as the only trust root
 * (`ca`). Everything above the socket (URL, Host header, request line, headers, body) stays
 * exactly what the client built. Other hosts and IP targets (e.g. `httpsRequest` above, which
 * connects to the mapped address itself) pass through untouched. This is the Node counterpart of
 * python/conftest.py's getaddrinfo override. Process-wide: `node --test` runs each test file in
 * its own process, so it only affects the file that installs it. Returns an uninstall function.
 */
export function routeHttpsAgentsThroughHostMap({ caPem, hostMap }) {
  const original = https.Agent.prototype.createConnection;
  https.Agent.prototype.createConnection = function createConnectionViaHostMap(options, ...rest) {
    if (options && typeof options === "object") {
      const host = String(options.host ?? options.hostname ?? "").replace(/\.$/, "").toLowerCase();
      const mapped = hostMap.get(host);
      if (mapped) {
        options = { ...options, host: mapped.ip, port: mapped.port, servername: host, ca: caPem };
        delete options.hostname;
      }
    }
    return original.call(this, options, ...rest);
  };
  return () => {
    https.Agent.prototype.createConnection = original;
  };
}
