//! A small W3C WebDriver client over reqwest (already a dependency) for the browser tests:
//! chromedriver on a free loopback port driving headless Chromium, both killed on drop, and
//! the dozen commands the tests use. Waits poll a condition with an overall deadline.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use serde_json::{Value, json};

/// Generous: Chromium starting on a busy two-core machine.
pub const DEADLINE: Duration = Duration::from_secs(60);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(20);
/// The W3C name of an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// What to install when the browser or its driver is missing.
const INSTALL: &str = "sudo apt-get install -y chromium chromium-driver";

/// `name` found on `PATH`, or an error naming it, its package and the install command.
fn find_program(name: &str, package: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .with_context(|| {
            format!(
                "the browser tests need `{name}` (Debian package `{package}`) and found none on \
                 PATH; install it with `{INSTALL}` (`.ci/run` does)"
            )
        })
}

/// A port nobody listens on now (the kernel's pick; chromedriver takes no port 0).
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("failed to find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// chromedriver and the headless Chromium it started, in their own process group: dropping
/// this kills the group, browser included, however the test ended.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    /// Chromium's profile, removed after the kill (fields drop after `Drop::drop`).
    profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The group id is chromedriver's pid (`process_group(0)` below); Chromium inherits it.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium session in a window of
    /// `width`×`height` CSS pixels (device scale 1, so screenshots are that size).
    pub async fn start(width: u32, height: u32) -> anyhow::Result<Browser> {
        let driver_path = find_program("chromedriver", "chromium-driver")?;
        let chromium = find_program("chromium", "chromium")?;
        let port = free_port()?;
        let profile = tempfile::tempdir().context("a folder for Chromium's profile")?;
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("failed to start `{}`", driver_path.display()))?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(DEADLINE)
            .build()?;
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            http,
            profile,
        };
        browser.wait_for_driver().await?;
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            // The pages' console (CSP refusals, script errors), read by `severe_logs`.
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--force-device-scale-factor=1",
                    "--hide-scrollbars",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", browser.profile.path().display()),
                ],
            },
        }}});
        let answer = browser
            .command(reqwest::Method::POST, "/session", capabilities)
            .await?;
        browser.session = answer["sessionId"]
            .as_str()
            .with_context(|| format!("no session id in {answer}"))?
            .to_owned();
        Ok(browser)
    }

    /// Polls chromedriver's `/status` until it is ready (or has exited).
    async fn wait_for_driver(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.driver.try_wait()? {
                bail!("chromedriver exited with {status} before it was ready");
            }
            let status = self.http.get(format!("{}/status", self.base)).send().await;
            if let Ok(response) = status {
                let body: Value = response.json().await.unwrap_or_default();
                if body["value"]["ready"] == true {
                    return Ok(());
                }
            }
            if started.elapsed() > DEADLINE {
                bail!("chromedriver was not ready within {DEADLINE:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// One WebDriver command; its `value`, or an error with WebDriver's error and message.
    async fn command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method.clone(), &url);
        if method == reqwest::Method::POST {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("WebDriver {method} {path}"))?;
        let status = response.status();
        let answer: Value = response
            .json()
            .await
            .with_context(|| format!("WebDriver {method} {path}: not JSON"))?;
        if !status.is_success() {
            bail!(
                "WebDriver {method} {path}: {status} {}: {}",
                answer["value"]["error"],
                answer["value"]["message"]
            );
        }
        Ok(answer["value"].clone())
    }

    async fn session_command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        self.command(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.session_command(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await?;
        Ok(())
    }

    /// The URL shown.
    pub async fn url(&self) -> anyhow::Result<String> {
        let url = self
            .session_command(reqwest::Method::GET, "/url", Value::Null)
            .await?;
        url.as_str().map(str::to_owned).context("a URL")
    }

    /// The URL and the start of the page's text, for failure messages.
    async fn whereabouts(&self) -> String {
        let url = self.url().await.unwrap_or_default();
        let text = self
            .execute(
                "return document.body ? document.body.innerText : ''",
                json!([]),
            )
            .await
            .unwrap_or_default();
        let text: String = text
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(1500)
            .collect();
        format!("{url}, showing:\n{text}")
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) and returns its value.
    pub async fn execute(&self, script: &str, args: Value) -> anyhow::Result<Value> {
        self.session_command(
            reqwest::Method::POST,
            "/execute/sync",
            json!({ "script": script, "args": args }),
        )
        .await
    }

    /// The element `css` selects, waiting for it to appear.
    pub async fn find(&self, css: &str) -> anyhow::Result<Element<'_>> {
        let started = Instant::now();
        loop {
            let found = self
                .session_command(
                    reqwest::Method::POST,
                    "/elements",
                    json!({ "using": "css selector", "value": css }),
                )
                .await?;
            if let Some(id) = found
                .as_array()
                .and_then(|elements| elements.first())
                .and_then(|element| element[ELEMENT_KEY].as_str())
            {
                return Ok(Element {
                    browser: self,
                    id: id.to_owned(),
                });
            }
            if started.elapsed() > DEADLINE {
                bail!(
                    "`{css}` did not appear within {DEADLINE:?} on {}",
                    self.whereabouts().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until `script` (a function body) returns something truthy; returns that value.
    pub async fn wait_for(&self, what: &str, script: &str) -> anyhow::Result<Value> {
        let started = Instant::now();
        loop {
            let value = self.execute(script, json!([])).await?;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(flag) => *flag,
                Value::String(text) => !text.is_empty(),
                _ => true,
            };
            if truthy {
                return Ok(value);
            }
            if started.elapsed() > DEADLINE {
                bail!(
                    "{what}: not so within {DEADLINE:?} on {}",
                    self.whereabouts().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The current tab's handle.
    pub async fn tab(&self) -> anyhow::Result<String> {
        let handle = self
            .session_command(reqwest::Method::GET, "/window", Value::Null)
            .await?;
        handle
            .as_str()
            .map(str::to_owned)
            .context("a window handle")
    }

    /// Opens a new tab and switches to it; returns its handle.
    pub async fn new_tab(&self) -> anyhow::Result<String> {
        let opened = self
            .session_command(reqwest::Method::POST, "/window/new", json!({"type": "tab"}))
            .await?;
        let handle = opened["handle"]
            .as_str()
            .with_context(|| format!("no handle in {opened}"))?
            .to_owned();
        self.switch_to(&handle).await?;
        Ok(handle)
    }

    /// Makes the tab `handle` the one commands go to.
    pub async fn switch_to(&self, handle: &str) -> anyhow::Result<()> {
        self.session_command(
            reqwest::Method::POST,
            "/window",
            json!({ "handle": handle }),
        )
        .await?;
        Ok(())
    }

    /// Marks the document shown, for [`Browser::wait_for_new_page`].
    pub async fn mark_page(&self) -> anyhow::Result<()> {
        self.execute("window.__browserTestMark = true;", json!([]))
            .await?;
        Ok(())
    }

    /// Waits until another document than the one marked has loaded (after a form's POST and
    /// its redirect, or a script's navigation).
    pub async fn wait_for_new_page(&self) -> anyhow::Result<()> {
        self.wait_for(
            "another page has loaded",
            "return !window.__browserTestMark && document.readyState === 'complete';",
        )
        .await?;
        Ok(())
    }

    /// The text of the element `css` selects (waiting for it), whitespace collapsed.
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        self.find(css).await?.text().await
    }

    /// The page's visible text, whitespace collapsed.
    pub async fn body_text(&self) -> anyhow::Result<String> {
        self.text("body").await
    }

    /// Saves a screenshot of the viewport to `path` (PNG); returns its size in bytes.
    pub async fn screenshot(&self, path: &Path) -> anyhow::Result<usize> {
        let encoded = self
            .session_command(reqwest::Method::GET, "/screenshot", Value::Null)
            .await?;
        write_png(path, &encoded)
    }

    /// The browser console's errors since the last call (chromedriver's log endpoint): a
    /// script error or a refusal by the Content-Security-Policy.
    pub async fn severe_logs(&self) -> anyhow::Result<Vec<String>> {
        let entries = self
            .session_command(reqwest::Method::POST, "/se/log", json!({"type": "browser"}))
            .await?;
        Ok(entries
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect())
    }

    /// Ends the session (Chromium quits); dropping kills whatever is left.
    pub async fn close(mut self) -> anyhow::Result<()> {
        let session = std::mem::take(&mut self.session);
        self.command(
            reqwest::Method::DELETE,
            &format!("/session/{session}"),
            Value::Null,
        )
        .await?;
        Ok(())
    }
}

fn write_png(path: &Path, encoded: &Value) -> anyhow::Result<usize> {
    let png = base64::engine::general_purpose::STANDARD
        .decode(encoded.as_str().context("a base64 screenshot")?)
        .context("a base64 screenshot")?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, &png).with_context(|| format!("failed to write `{}`", path.display()))?;
    Ok(png.len())
}

/// An element of the page.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Element<'_> {
    async fn command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        self.browser
            .session_command(method, &format!("/element/{}{path}", self.id), body)
            .await
    }

    /// Clicks it as a user would (scrolled into view, the click dispatched at its centre).
    pub async fn click(&self) -> anyhow::Result<()> {
        self.command(reqwest::Method::POST, "/click", json!({}))
            .await?;
        Ok(())
    }

    /// Types `text` into it, key by key.
    pub async fn type_text(&self, text: &str) -> anyhow::Result<()> {
        self.command(reqwest::Method::POST, "/value", json!({ "text": text }))
            .await?;
        Ok(())
    }

    /// Empties an input.
    pub async fn clear(&self) -> anyhow::Result<()> {
        self.command(reqwest::Method::POST, "/clear", json!({}))
            .await?;
        Ok(())
    }

    /// Its rendered text, whitespace collapsed.
    pub async fn text(&self) -> anyhow::Result<String> {
        let text = self
            .command(reqwest::Method::GET, "/text", Value::Null)
            .await?;
        Ok(text
            .as_str()
            .context("text")?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "))
    }

    /// Saves a screenshot of just this element (scrolled into view) to `path` (PNG); returns
    /// its size in bytes.
    pub async fn screenshot(&self, path: &Path) -> anyhow::Result<usize> {
        let encoded = self
            .command(reqwest::Method::GET, "/screenshot", Value::Null)
            .await?;
        write_png(path, &encoded)
    }
}
