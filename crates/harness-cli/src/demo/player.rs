//! The scenario player (`/scenarios`): the scenario files of a folder, grouped by folder;
//! loading one serves its world (its faults too, the clock at `scenario::START_TIME`), empties
//! the demo's source list and shows the scenario's form and steps; "Play next step" plays one
//! step with `scenario::Player` (the runner's own step code) and shows its report beside it.
//! Invariant: no secret reaches a page: the form's secret is named by origin, reports hold none.

mod view;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};
use std::time::SystemTime;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use scenario::{LiveWorld, Scenario};
use serde::Deserialize;

use super::Demo;
use super::app::{csrf_refused, error_page, page, see_other, store_error};
use crate::error_chain;

/// The scenario folder and the scenario being played.
pub(crate) struct PlayerState {
    /// Where the scenario files are; `None` when there is no folder.
    dir: Option<PathBuf>,
    /// The scenario being played. An async lock: a step holds it while the flow runs, so two
    /// steps (or a step and a load) never interleave.
    playing: tokio::sync::Mutex<Option<Playing>>,
    /// What the list shows of each file, with the modification time it was read at: the
    /// list page reads again only the files that changed.
    heads: std::sync::Mutex<Heads>,
}

/// Each file's head (`None`: not shaped like a scenario file) and the modification time it was
/// read at.
type Heads = HashMap<PathBuf, (Option<SystemTime>, Option<Head>)>;

impl Default for PlayerState {
    fn default() -> PlayerState {
        PlayerState::new(None)
    }
}

impl PlayerState {
    /// The player for the scenario files under `dir`, or under [`default_dir`] when `None`.
    pub(crate) fn new(dir: Option<PathBuf>) -> PlayerState {
        PlayerState {
            dir: dir.or_else(default_dir),
            playing: tokio::sync::Mutex::new(None),
            heads: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Ends the scenario being played, if any (the demo's Reset: the world it played on is
    /// put back, so its played steps no longer describe it). Waits for a step in progress.
    pub(crate) async fn stop_playing(&self) {
        *self.playing.lock().await = None;
    }
}

/// `./scenarios` when it exists, else the checkout's `scenarios/` when this binary was built
/// from a checkout that still has it; `None` when neither exists.
fn default_dir() -> Option<PathBuf> {
    [
        PathBuf::from("scenarios"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios"),
    ]
    .into_iter()
    .find(|dir| dir.is_dir())
}

/// A scenario being played: its file and the player.
struct Playing {
    /// The file, relative to the folder, with `/` (`dataverse/missing_table_privilege.toml`).
    file: String,
    player: scenario::Player,
}

/// A scenario file of the folder, as the list shows it.
#[derive(Debug)]
struct Listed {
    /// The file, relative to the folder, with `/`.
    file: String,
    /// The folder it is in, relative (`dataverse`; empty at the top).
    folder: String,
    /// Its `name`, `description` and `world`, or `None` when the file is not shaped like a
    /// scenario file (its errors are shown when it is loaded).
    head: Option<Head>,
}

/// The few fields the list shows, read without validating the file (that is for loading).
#[derive(Clone, Debug, Deserialize)]
struct Head {
    name: String,
    #[serde(default)]
    description: String,
    world: String,
}

/// The player's pages and actions.
pub(super) fn routes() -> Router<Arc<Demo>> {
    Router::new()
        .route("/scenarios", get(list_page))
        .route("/scenarios/load", post(load))
        .route("/scenarios/play", get(play_page))
        .route("/scenarios/next", post(play_next))
        .route("/scenarios/all", post(play_all))
        .route("/scenarios/restart", post(restart))
}

/// Every `.toml` file under `dir`, in path order, with its head (read again only when the
/// file changed since `heads` saw it).
fn list(dir: &Path, heads: &std::sync::Mutex<Heads>) -> std::io::Result<Vec<Listed>> {
    let files = files(dir)?;
    let mut heads = heads.lock().unwrap_or_else(PoisonError::into_inner);
    Ok(files
        .into_iter()
        .map(|(file, path)| {
            let modified = std::fs::metadata(&path)
                .and_then(|metadata| metadata.modified())
                .ok();
            let head = match heads.get(&path) {
                Some((seen, head)) if modified.is_some() && *seen == modified => head.clone(),
                _ => {
                    let head = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|text| toml::from_str::<Head>(&text).ok());
                    heads.insert(path, (modified, head.clone()));
                    head
                }
            };
            let folder = file
                .rsplit_once('/')
                .map_or(String::new(), |(folder, _)| folder.to_owned());
            Listed { file, folder, head }
        })
        .collect())
}

/// Every `.toml` file under `dir` (relative, with `/`) and its path, in path order.
fn files(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    files.sort();
    Ok(files)
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, files)?;
        } else if path
            .extension()
            .is_some_and(|extension| extension == "toml")
            && let Ok(relative) = path.strip_prefix(root)
        {
            let parts: Vec<String> = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect();
            files.push((parts.join("/"), path));
        }
    }
    Ok(())
}

async fn list_page(State(demo): State<Arc<Demo>>) -> Response {
    let playing = demo.player.playing.lock().await;
    let current = playing.as_ref().map(|playing| view::Current {
        file: &playing.file,
        name: playing.player.scenario().name(),
        played: playing.player.played().len(),
        steps: playing.player.scenario().steps().len(),
    });
    let markup = match &demo.player.dir {
        None => view::list(Err(view::NO_FOLDER), current, demo.csrf()),
        Some(dir) => match list(dir, &demo.player.heads) {
            Ok(listed) => view::list(Ok((dir, &listed)), current, demo.csrf()),
            Err(error) => {
                let message = format!(
                    "The scenario folder {} cannot be read: {error}.",
                    dir.display()
                );
                view::list(Err(&message), current, demo.csrf())
            }
        },
    };
    page(StatusCode::OK, markup)
}

async fn play_page(State(demo): State<Arc<Demo>>) -> Response {
    let playing = demo.player.playing.lock().await;
    match playing.as_ref() {
        None => see_other("/scenarios"),
        Some(playing) => page(
            StatusCode::OK,
            view::play(&playing.file, &playing.player, demo.csrf()),
        ),
    }
}

/// A POST that names a scenario file.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LoadForm {
    csrf: String,
    file: String,
}

/// A POST that carries only the CSRF token.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Plain {
    csrf: String,
}

async fn load(State(demo): State<Arc<Demo>>, Form(form): Form<LoadForm>) -> Response {
    if !demo.csrf.matches(form.csrf.as_bytes()) {
        return csrf_refused();
    }
    let Some(dir) = demo.player.dir.clone() else {
        return error_page(StatusCode::NOT_FOUND, view::NO_FOLDER);
    };
    // Only a file the list shows: the name never becomes a path by itself.
    let known = files(&dir).is_ok_and(|files| files.iter().any(|(file, _)| *file == form.file));
    if !known {
        return error_page(
            StatusCode::NOT_FOUND,
            &format!(
                "There is no scenario file '{}' in the scenario folder.",
                fake_core::echo(&form.file)
            ),
        );
    }
    let mut playing = demo.player.playing.lock().await;
    start(&demo, &dir, &form.file, &mut playing).await
}

async fn restart(State(demo): State<Arc<Demo>>, Form(form): Form<Plain>) -> Response {
    if !demo.csrf.matches(form.csrf.as_bytes()) {
        return csrf_refused();
    }
    let Some(dir) = demo.player.dir.clone() else {
        return error_page(StatusCode::NOT_FOUND, view::NO_FOLDER);
    };
    let mut playing = demo.player.playing.lock().await;
    let Some(file) = playing.as_ref().map(|playing| playing.file.clone()) else {
        return see_other("/scenarios");
    };
    start(&demo, &dir, &file, &mut playing).await
}

/// Loads `file` (relative to `dir`) into `playing`: its world served with its faults and the
/// clock at `START_TIME` (the demo's flow follows the load), the journal emptied, the demo's
/// source list emptied, and a player ready at step 1; then the redirect to the player. A file that does not load changes nothing (the scenario before it stays loaded);
/// once the world is served, the scenario before it is gone whatever fails next.
async fn start(demo: &Demo, dir: &Path, file: &str, playing: &mut Option<Playing>) -> Response {
    let path = dir.join(file);
    let live = demo.live().clone();
    let loaded = tokio::task::spawn_blocking(move || -> Result<Scenario, String> {
        let scenario = Scenario::load(&path).map_err(|error| error_chain(&error))?;
        serve_world(&live, &scenario)?;
        Ok(scenario)
    })
    .await;
    let scenario = match loaded {
        Ok(Ok(scenario)) => scenario,
        Ok(Err(message)) => {
            let message = message.replace(&format!("{}/", dir.display()), "");
            return error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("The scenario does not load: {message}"),
            );
        }
        Err(error) => {
            *playing = None;
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("Loading the scenario failed: {error}"),
            );
        }
    };
    *playing = None;
    // The Sources page's flow followed the load (`app::follow_loads`); the player's is the
    // scenario's own.
    let network = demo.live().network_settings();
    let store = demo.store();
    let emptied = store.list().and_then(|list| {
        list.iter()
            .try_for_each(|source| store.remove(&source.name).map(drop))
    });
    if let Err(error) = emptied {
        return store_error(&error);
    }
    match scenario::Player::new(scenario, demo.live().clone(), network, store.clone()) {
        Ok(player) => {
            *playing = Some(Playing {
                file: file.to_owned(),
                player,
            });
            see_other("/scenarios/play")
        }
        Err(error) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &error_chain(&error)),
    }
}

/// Serves `scenario`'s world on the running listener: the clock at `START_TIME` first (so
/// that Reset comes back there), then the world with the scenario's fault rules, then an
/// empty journal (the traffic view starts with the scenario's requests).
fn serve_world(live: &LiveWorld, scenario: &Scenario) -> Result<(), String> {
    let clock = live.clock();
    let before = clock.now();
    // `set` cannot fail on either kind of clock.
    let _ = clock.set(scenario::START_TIME);
    if let Err(error) = live.load(scenario.world(), scenario.faults()) {
        let _ = clock.set(before);
        return Err(error_chain(&error));
    }
    live.journal().clear();
    Ok(())
}

async fn play_next(State(demo): State<Arc<Demo>>, Form(form): Form<Plain>) -> Response {
    if !demo.csrf.matches(form.csrf.as_bytes()) {
        return csrf_refused();
    }
    let mut playing = demo.player.playing.lock().await;
    let Some(playing) = playing.as_mut() else {
        return see_other("/scenarios");
    };
    match playing.player.play_next().await {
        Ok(Some(step)) => see_other(&format!("/scenarios/play#step-{}", step.step)),
        Ok(None) => see_other("/scenarios/play"),
        Err(error) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &error_chain(&error)),
    }
}

async fn play_all(State(demo): State<Arc<Demo>>, Form(form): Form<Plain>) -> Response {
    if !demo.csrf.matches(form.csrf.as_bytes()) {
        return csrf_refused();
    }
    let mut playing = demo.player.playing.lock().await;
    let Some(playing) = playing.as_mut() else {
        return see_other("/scenarios");
    };
    loop {
        match playing.player.play_next().await {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(error) => {
                return error_page(StatusCode::INTERNAL_SERVER_ERROR, &error_chain(&error));
            }
        }
    }
    let last = playing.player.played().len();
    see_other(&format!("/scenarios/play#step-{last}"))
}
