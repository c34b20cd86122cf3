//! Starting chromedriver and headless Chromium, and the checks every journey uses.

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

const AXE: &str = include_str!("../../fixtures/vendor/axe-core-4.14.1.min.js");

pub struct Browser {
    pub client: Client,
    driver: Child,
    /// Names the artifacts of a failure (e.g. the backend).
    context: Mutex<String>,
}

fn required() -> bool {
    std::env::var_os("STEWARD_TEST_REQUIRE_BROWSER").is_some_and(|v| v == "1")
}

impl Browser {
    /// Starts chromedriver on a free port and one headless Chromium session. Without
    /// chromedriver on the PATH: panics when the browser is required, else skips (None).
    pub async fn start() -> Option<Browser> {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let driver = match Command::new("chromedriver").arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn() {
            Ok(child) => child,
            Err(e) if !required() => {
                eprintln!("note: chromedriver not found ({e}): browser tests skipped (tests/run installs chromium-driver)");
                return None;
            }
            Err(e) => panic!("chromedriver is required (STEWARD_TEST_REQUIRE_BROWSER=1) but cannot be started: {e}"),
        };
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900", "--lang=en-US"]}),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        // chromedriver takes a moment to listen.
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(caps.clone()).connect(&url).await {
                Ok(client) => return Some(Browser { client, driver, context: Mutex::new(String::new()) }),
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no WebDriver session from chromedriver at {url}: {last:?}");
    }

    pub fn set_context(&self, context: &str) {
        *self.context.lock().unwrap() = context.to_owned();
    }

    pub async fn goto(&self, url: &str) {
        if let Err(e) = self.client.goto(url).await {
            self.fail::<()>(&format!("cannot open {url}: {e}")).await;
        }
    }

    pub async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(e) => self.fail(&format!("no element `{css}`: {e}")).await,
        }
    }

    /// Waits (a form post navigates after the click returns) until `css` holds `expected`.
    pub async fn wait_text(&self, css: &str, expected: &str) {
        for _ in 0..100 {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                if element.text().await.is_ok_and(|t| t.contains(expected)) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.fail::<()>(&format!("`{css}` never showed `{expected}`")).await;
    }

    /// Waits (up to 5 s) until `js` returns true in the page.
    pub async fn wait_until(&self, js: &str, what: &str) {
        for _ in 0..100 {
            if self.script(js).await == json!(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.fail::<()>(&format!("never: {what}")).await;
    }

    pub async fn click(&self, css: &str) {
        let clicked = match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.click().await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = clicked {
            self.fail::<()>(&format!("cannot click `{css}`: {e}")).await;
        }
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let typed = match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.send_keys(text).await,
            Err(e) => Err(e),
        };
        if let Err(e) = typed {
            self.fail::<()>(&format!("cannot type into `{css}`: {e}")).await;
        }
    }

    pub async fn script(&self, js: &str) -> Value {
        match self.client.execute(js, vec![]).await {
            Ok(v) => v,
            Err(e) => self.fail(&format!("script failed: {e}\n{js}")).await,
        }
    }

    /// Asserts in the browser; on failure keeps the screenshot and HTML.
    pub async fn ensure(&self, ok: bool, what: &str) {
        if !ok {
            self.fail::<()>(what).await;
        }
    }

    /// No `alert()` dialog is open (an injected script would have opened one).
    pub async fn ensure_no_dialog(&self) {
        if let Ok(text) = self.client.get_alert_text().await {
            self.fail::<()>(&format!("a dialog opened: {text}")).await;
        }
    }

    /// Runs axe-core on the current page; fails on any serious or critical violation.
    pub async fn ensure_accessible(&self, screen: &str) {
        // WebDriver scripts are not subject to the page's CSP, so axe can be injected as text.
        self.script(&format!("{AXE}\nreturn true;")).await;
        let found = self
            .script(
                "return axe.run(document, {resultTypes: ['violations']}).then(r => r.violations\
                   .filter(v => v.impact === 'serious' || v.impact === 'critical')\
                   .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))})));",
            )
            .await;
        if found.as_array().is_none_or(|v| !v.is_empty()) {
            self.fail::<()>(&format!("accessibility of {screen}: {found:#}")).await;
        }
    }

    /// Keeps the evidence, then fails the test.
    pub async fn fail<T>(&self, what: &str) -> T {
        let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/browser-artifacts"));
        let _ = std::fs::create_dir_all(&dir);
        let name = format!("{}-{}", self.context.lock().unwrap(), std::process::id());
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(dir.join(format!("{name}.png")), png);
        }
        if let Ok(html) = self.client.source().await {
            let _ = std::fs::write(dir.join(format!("{name}.html")), html);
        }
        let url = self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        panic!("{what}\n  at {url}\n  artifacts: {}/{name}.{{png,html}}", dir.display());
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A failed test still stops its chromedriver (and with it the browser).
        let _ = self.driver.kill();
    }
}
