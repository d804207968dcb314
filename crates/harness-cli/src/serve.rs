//! `d365-harness serve`: load a world, serve its fakes (Entra ID with its `[entra]` knobs, and
//! Dataverse for its environments, behind its `[[faults]]`) on one HTTPS listener (and, with
//! `--proxy-listen`, a CONNECT proxy in front of the same handling), write
//! `ca.pem` and `connection.env` into the state directory, print how to point clients at it,
//! and run until Ctrl-C or SIGTERM. Beside it, the plain-HTTP admin API (`serve/admin.rs`) on
//! `--admin-listen`. When another world is loaded (`PUT /world`, the demo's scenario player),
//! `connection.env` is rewritten for its hosts and credentials. Invariant: the only secrets printed or written are the world's published
//! demo client secret and the admin token (0600); private keys never leave the process.

pub(crate) mod admin;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context;
use fake_core::{Clock, FaultRule, HostPattern, IdGenerator, ServerHandle};
use scenario::{ClientCredentials, Scenario, World};
use uuid::Uuid;

use crate::state::{FileMode, StateDir};
use crate::world::{BuiltinWorld, DEFAULT_WORLD};

/// Arguments of `d365-harness serve`.
#[derive(Clone, Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// Folder for `ca.pem` and `connection.env` (created if missing).
    #[arg(long, value_name = "DIR", default_value = ".d365-harness")]
    pub state_dir: PathBuf,
    /// World file to serve; files it names are relative to it [default: the built-in `demo`
    /// world, see `d365-harness world export demo`]
    #[arg(long, value_name = "PATH", conflicts_with = "scenario")]
    pub world: Option<PathBuf>,
    /// Serve a scenario's world instead, with its `faults` and the world changes of its steps
    /// (`change`, `fault`, `advance_clock`; the user's steps are left to the client) applied,
    /// the clock starting where the scenario runner's does: the situation a field report
    /// describes, for a real client
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// With `--scenario`: apply the world changes of steps 1 to N only [default: every step]
    #[arg(long, value_name = "N", requires = "scenario")]
    pub step: Option<usize>,
    /// Also listen here as a plain-HTTP CONNECT proxy for clients that honour `HTTPS_PROXY`:
    /// it tunnels only to port 443 of the served hosts and never connects anywhere else; port
    /// 0 picks a free port (written to `connection.env` as `HTTPS_PROXY`)
    #[arg(long, value_name = "ADDR")]
    pub proxy_listen: Option<SocketAddr>,
    /// Address of the plain-HTTP admin API (change the world, faults and clock; read the
    /// journal), written to `connection.env` as `D365_ADMIN_URL`; port 0 picks a free port.
    /// Beyond loopback it requires the bearer token written to `<state-dir>/admin.token`
    /// [default: 127.0.0.1 on the `--listen` port + 1 (8444), or a free port when `--listen`'s
    /// is 0, so that two serves on different ports never collide]
    #[arg(long, value_name = "ADDR")]
    pub admin_listen: Option<SocketAddr>,
}

impl ServeArgs {
    /// Where the admin API listens: `--admin-listen`, else loopback on the `--listen` port + 1
    /// (a free port when that is 0 or would be past 65535).
    pub fn admin_listen(&self) -> SocketAddr {
        self.admin_listen.unwrap_or_else(|| {
            let port = match self.listen.port() {
                0 => 0,
                port => port.checked_add(1).unwrap_or(0),
            };
            SocketAddr::from((Ipv4Addr::LOCALHOST, port))
        })
    }

    /// The world to serve: the file `--world` names, else the built-in demo world, which is
    /// compiled in (with everything it names) so that an installed or copied binary serves it
    /// from any folder.
    pub fn load_world(&self) -> anyhow::Result<World> {
        match &self.world {
            Some(path) => Ok(World::load(path)?),
            None => BuiltinWorld::named(DEFAULT_WORLD)?.load(),
        }
    }
}

pub(crate) async fn serve(args: &ServeArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let mut serving = Serving::start(args, out).await?;
    let signal = serving.shutdown.recv().await;
    serving.stop(signal, out).await
}

/// The fakes, their admin API and the state files, as `serve` runs them (`demo` runs the same
/// with its web app beside them).
pub(crate) struct Serving {
    /// The HTTPS listener of the fakes.
    pub(crate) handle: ServerHandle,
    /// Ctrl-C and SIGTERM, listened for since before readiness was announced.
    pub(crate) shutdown: ShutdownSignal,
    /// The state directory the files below are in.
    pub(crate) state: StateDir,
    admin_server: admin::AdminServer,
    admin_token: admin::AdminToken,
    ca_pem: String,
    /// What this run last wrote to `connection.env` (rewritten when a world is loaded).
    env_contents: Arc<Mutex<String>>,
}

impl std::fmt::Debug for Serving {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // connection.env holds the world's demo secret: only the addresses are shown.
        f.debug_struct("Serving")
            .field("addr", &self.handle.addr())
            .field("admin", &self.admin_server.addr())
            .finish_non_exhaustive()
    }
}

impl Serving {
    /// Loads the world, serves it, starts the admin API, writes the state files and prints
    /// how to point clients at the fakes.
    pub(crate) async fn start(args: &ServeArgs, out: &mut impl Write) -> anyhow::Result<Serving> {
        start(args, out).await
    }

    /// The admin API in-process, for the demo's console (the same routes and checks as its
    /// listener).
    pub(crate) fn admin_client(&self) -> admin::AdminClient {
        self.admin_server.client(&self.admin_token)
    }

    /// Stops the admin API and the fakes, then removes the state files this run wrote.
    pub(crate) async fn stop(self, signal: &str, out: &mut impl Write) -> anyhow::Result<()> {
        tracing::info!(signal, "shutting down");
        self.admin_server.shutdown().await;
        self.handle.shutdown().await;
        // Stale files would point clients at a closed port (and connection.env holds the
        // world's demo secret); files another serve has rewritten since are left to it.
        let state = &self.state;
        let env_contents = self
            .env_contents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        state.remove_if_unchanged("connection.env", env_contents.as_bytes())?;
        state.remove_if_unchanged("ca.pem", self.ca_pem.as_bytes())?;
        state.remove_if_unchanged("admin.token", self.admin_token.expose().as_bytes())?;
        writeln!(out, "d365-harness: stopped ({signal})")?;
        out.flush()?;
        Ok(())
    }
}

async fn start(args: &ServeArgs, out: &mut impl Write) -> anyhow::Result<Serving> {
    let clock = Clock::system();
    let (world, scenario) = match &args.scenario {
        None => (args.load_world()?, None),
        Some(path) => {
            let scenario = Scenario::load(path)?;
            last_step(&scenario, args.step)?;
            // The runner's clock starts at START_TIME, and the scenario's secrets and
            // `until`s are written for it; a system clock set there keeps ticking.
            clock.set(scenario::START_TIME)?;
            (scenario.world().clone(), Some(scenario))
        }
    };
    // The credentials of the world as loaded: a client configured before the steps changed
    // the world (a secret deleted since) is the situation a scenario describes.
    let credentials = world.client_credentials(clock.now())?;
    let faults = scenario.as_ref().map_or(&[][..], Scenario::faults);
    let (handle, live) = spawn_world(&world, args.listen, args.proxy_listen, faults, clock).await?;
    if let Some(scenario) = &scenario {
        apply_steps(scenario, args.step, &live)?;
    }
    // Listen for signals before announcing readiness: whoever reads connection.env may stop
    // us right away, and an unhandled SIGTERM would kill the process instead of shutting down.
    let shutdown = ShutdownSignal::listen()?;

    let state = StateDir::create(&args.state_dir)?;
    let admin_listen = args.admin_listen();
    let admin_listener = admin::bind(admin_listen).await?;
    let admin_token = admin::AdminToken::generate()?;
    let loads = live.clone();
    let admin_server = {
        let access = admin::Access::for_listener(admin_listen, &admin_token);
        admin::AdminServer::spawn(admin_listener, move |stopping| {
            admin::Admin::new(access, live, stopping)
        })?
    };
    // Written before connection.env, whose appearance tells readers that serve is ready.
    state.write(
        "admin.token",
        admin_token.expose().as_bytes(),
        FileMode::Private,
    )?;
    let ca_pem = handle.ca_pem().to_owned();
    let ca_file = state.write("ca.pem", ca_pem.as_bytes(), FileMode::Public)?;
    let connection = Connection::new(
        &world,
        &credentials,
        ca_file,
        host_map(&handle.hosts(), handle.addr()),
        handle.proxy_addr().map(connect_address),
        connect_address(admin_server.addr()),
    );
    let env_contents = connection.env();
    let env_file = state.write("connection.env", env_contents.as_bytes(), FileMode::Private)?;
    let env_contents = Arc::new(Mutex::new(env_contents));
    rewrite_on_load(
        &loads,
        ConnectionFile {
            state: state.clone(),
            connection: connection.clone(),
            clock: loads.clock().clone(),
            addr: handle.addr(),
            written: env_contents.clone(),
        },
    );
    tracing::info!(addr = %handle.addr(), world = %world.path().display(), "serving");
    write!(
        out,
        "{}",
        connection.instructions(world.path(), handle.addr(), &env_file)
    )?;
    if let Some(scenario) = &scenario {
        writeln!(
            out,
            "Scenario `{}`: its faults and the world changes of steps 1 to {} are applied \
             (POST /reset goes back to its world before them).",
            scenario.path().display(),
            args.step.unwrap_or(scenario.steps().len())
        )?;
    }
    out.flush()?;
    Ok(Serving {
        handle,
        shutdown,
        state,
        admin_server,
        admin_token,
        ca_pem,
        env_contents,
    })
}

/// `connection.env` as this run keeps it, for rewriting it when another world is loaded.
struct ConnectionFile {
    state: StateDir,
    /// What was written at start: the CA file, proxy and admin addresses stay.
    connection: Connection,
    clock: Clock,
    /// The fakes' listener.
    addr: SocketAddr,
    /// What this run last wrote (shared with [`Serving`], which removes the file at the end
    /// only if it still holds this).
    written: Arc<Mutex<String>>,
}

impl ConnectionFile {
    /// The file for `world` served on `hosts`: its authority host, credentials (its first app
    /// with a valid secret, as at start), first environment and host map; `None` when it has
    /// no usable credentials.
    fn for_world(&self, world: &World, hosts: &[HostPattern]) -> Option<Connection> {
        let credentials = world.client_credentials(self.clock.now()).ok()?;
        Some(Connection::new(
            world,
            &credentials,
            self.connection.ca_file.clone(),
            host_map(hosts, self.addr),
            self.connection.proxy,
            self.connection.admin,
        ))
    }

    /// Rewrites the file for `world` (atomically); logs, and leaves the file, when that fails
    /// or the world has no credentials to give.
    fn rewrite(&self, world: &World, hosts: &[HostPattern]) {
        let Some(connection) = self.for_world(world, hosts) else {
            tracing::warn!(
                world = %world.path().display(),
                "the loaded world has no app with a valid client secret; connection.env still \
                 describes the previous world"
            );
            return;
        };
        let contents = connection.env();
        let mut written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
        match self
            .state
            .write("connection.env", contents.as_bytes(), FileMode::Private)
        {
            Ok(file) => {
                tracing::info!(file = %file.display(), world = %world.path().display(), "connection.env rewritten for the loaded world");
                *written = contents;
            }
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "failed to rewrite connection.env");
            }
        }
    }
}

/// Keeps `connection.env` following the world `live` serves: rewritten after each load.
fn rewrite_on_load(live: &scenario::LiveWorld, file: ConnectionFile) {
    live.on_load(move |world, hosts| file.rewrite(world, hosts));
}

/// Serves `world` (the fake Entra ID and, when the world has environments, the fake
/// Dataverse, behind its `[[faults]]`) on `listen`, with the CONNECT proxy on `proxy_listen`
/// when given, and returns the listener and the [`LiveWorld`](scenario::LiveWorld) that
/// changes it. The PKI is made for every host the mounts serve.
pub(crate) async fn spawn_world(
    world: &World,
    listen: SocketAddr,
    proxy_listen: Option<SocketAddr>,
    faults: &[FaultRule],
    clock: Clock,
) -> anyhow::Result<(ServerHandle, scenario::LiveWorld)> {
    // scenario's error names the world and what did not start (the address not bound).
    let served = scenario::spawn_live_with(
        world,
        clock,
        IdGenerator::from_entropy(),
        faults,
        |config| {
            config.listen = listen;
            config.proxy_listen = proxy_listen;
        },
    )
    .await?;
    Ok(served)
}

/// The last step `--step` asks for (every step when `None`), if the scenario has it.
fn last_step(scenario: &Scenario, last: Option<usize>) -> anyhow::Result<usize> {
    let count = scenario.steps().len();
    let last = last.unwrap_or(count);
    anyhow::ensure!(
        (1..=count).contains(&last),
        "`--step {last}`: scenario `{}` has steps 1 to {count}",
        scenario.path().display(),
    );
    Ok(last)
}

/// Applies the world changes of `scenario`'s steps 1 to `last` (every step when `None`) to
/// `live`: `change` steps, `fault` steps and clock moves, as the runner does. The user's steps
/// (`add`, `test`, ...) are what the client being tested will do.
fn apply_steps(
    scenario: &Scenario,
    last: Option<usize>,
    live: &scenario::LiveWorld,
) -> anyhow::Result<()> {
    let steps = scenario.steps();
    let last = last_step(scenario, last)?;
    for (index, step) in steps.iter().take(last).enumerate() {
        let changes = step.action.world_changes();
        if changes.is_empty() {
            continue;
        }
        live.apply(&changes).with_context(|| {
            format!(
                "step {} (`{}`) of scenario `{}` does not apply",
                index + 1,
                step.action.as_str(),
                scenario.path().display()
            )
        })?;
    }
    Ok(())
}

/// What a client needs to reach the fakes: the `connection.env` contents.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Connection {
    authority_host: String,
    tenant_id: Uuid,
    client_id: Uuid,
    client_secret: String,
    /// The first environment of the credentials' tenant, when the world has one.
    environment_url: Option<String>,
    ca_file: PathBuf,
    host_map: Vec<(String, SocketAddr)>,
    /// Where the CONNECT proxy listens (connectable), when `--proxy-listen` was given.
    proxy: Option<SocketAddr>,
    /// Where the admin API listens (connectable).
    admin: SocketAddr,
}

impl Connection {
    /// How a client reaches `world` as `credentials` (its authority host, tenant, app, secret
    /// and the tenant's first environment) through these fakes.
    fn new(
        world: &World,
        credentials: &ClientCredentials<'_>,
        ca_file: PathBuf,
        host_map: Vec<(String, SocketAddr)>,
        proxy: Option<SocketAddr>,
        admin: SocketAddr,
    ) -> Connection {
        Connection {
            authority_host: world.authority_host().to_owned(),
            tenant_id: credentials.tenant.id,
            client_id: credentials.app.client_id,
            client_secret: credentials.secret.value.expose().to_owned(),
            environment_url: world
                .first_environment_of(&credentials.tenant.key)
                .map(|environment| environment.url.clone()),
            ca_file,
            host_map,
            proxy,
            admin,
        }
    }

    /// `KEY=value` lines, in the documented order (`D365_ENVIRONMENT_URL` only when there is
    /// an environment, `HTTPS_PROXY` only when the proxy runs, `D365_ADMIN_URL` last).
    fn env(&self) -> String {
        let host_map = self
            .host_map
            .iter()
            .map(|(host, addr)| format!("{host}={addr}"))
            .collect::<Vec<_>>()
            .join(",");
        let environment = self
            .environment_url
            .as_ref()
            .map(|url| format!("D365_ENVIRONMENT_URL={url}\n"))
            .unwrap_or_default();
        let proxy = self
            .proxy
            .map(|proxy| format!("HTTPS_PROXY=http://{proxy}\n"))
            .unwrap_or_default();
        format!(
            "D365_AUTHORITY_HOST=https://{}\n\
             D365_TENANT_ID={}\n\
             D365_CLIENT_ID={}\n\
             D365_CLIENT_SECRET={}\n\
             {environment}\
             D365_CA_FILE={}\n\
             D365_HOST_MAP={host_map}\n\
             {proxy}\
             D365_ADMIN_URL={}\n",
            self.authority_host,
            self.tenant_id,
            self.client_id,
            self.client_secret,
            self.ca_file.display(),
            self.admin_url(),
        )
    }

    /// The admin API's base URL.
    fn admin_url(&self) -> String {
        format!("http://{}", self.admin)
    }

    /// What `serve` prints: the env lines and how to use them.
    fn instructions(&self, world: &Path, addr: SocketAddr, env_file: &Path) -> String {
        let ca = self.ca_file.display();
        let mut text = format!(
            "d365-harness: serving world `{}` on https://{addr}\n\n{}\n",
            world.display(),
            self.env()
        );
        text.push_str(&format!(
            "Written to {} (and the CA to {ca}).\n\
             Clients keep the real URLs; change only their network settings:\n\
             \x20 trust the harness CA  REQUESTS_CA_BUNDLE={ca}  (Python requests, MSAL Python, azure-identity)\n\
             \x20                       NODE_EXTRA_CA_CERTS={ca}  (Node.js, @azure/msal-node)\n",
            env_file.display(),
        ));
        for (host, target) in &self.host_map {
            text.push_str(&format!(
                "  resolve {host} to {target}  (D365_HOST_MAP)\n\
                 \x20 check: curl --cacert {ca} --connect-to {host}:443:{target} https://{host}{}\n",
                fake_core::HEALTH_PATH
            ));
        }
        if let Some(proxy) = self.proxy {
            text.push_str(&format!(
                "  or, with no host mapping, use the CONNECT proxy  HTTPS_PROXY=http://{proxy}  \
                 (it tunnels only to the served hosts)\n\
                 \x20 check: curl --proxy http://{proxy} --cacert {ca} \
                 https://{}{}\n",
                self.authority_host,
                fake_core::HEALTH_PATH
            ));
        }
        if let Some(url) = &self.environment_url {
            text.push_str(&format!(
                "The Dataverse Web API is at {url}/api/data/v9.2/ (token scope {url}/.default).\n"
            ));
        }
        text.push_str(&format!(
            "Change the world live through the admin API at {0} \
             (`d365-harness admin`, or curl {0}/world).\n",
            self.admin_url()
        ));
        text.push_str("Press Ctrl-C to stop.\n");
        text
    }
}

/// `host=ip:port` targets for every exact host served; wildcard patterns cannot be listed.
fn host_map(hosts: &[HostPattern], addr: SocketAddr) -> Vec<(String, SocketAddr)> {
    let target = connect_address(addr);
    hosts
        .iter()
        .filter_map(|host| match host {
            HostPattern::Exact(name) => Some((name.clone(), target)),
            HostPattern::Suffix(_) => None,
        })
        .collect()
}

/// Where a local client connects: the listen address, with "any" replaced by loopback.
pub(crate) fn connect_address(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

/// Ctrl-C and (on unix) SIGTERM, registered when created.
pub(crate) struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    fn listen() -> anyhow::Result<ShutdownSignal> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(ShutdownSignal {
                interrupt: signal(SignalKind::interrupt())
                    .context("failed to listen for Ctrl-C")?,
                terminate: signal(SignalKind::terminate())
                    .context("failed to listen for SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(ShutdownSignal {})
        }
    }

    /// Waits for the first signal and names it.
    pub(crate) async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "Ctrl-C",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            // Registered on first poll, so a Ctrl-C during start-up is not handled on Windows.
            match tokio::signal::ctrl_c().await {
                Ok(()) => "Ctrl-C",
                Err(_) => std::future::pending().await,
            }
        }
    }
}

#[cfg(test)]
mod tests;
