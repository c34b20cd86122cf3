//! Test helpers: the guest build, a shared WASM runtime, bundled plugin directories and
//! throw-away plugin directories written by code.

use super::guest_build;
use super::wasm::{WasmRuntime, WasmRuntimeConfig};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// Builds the guest workspace once per test process and returns where the `.wasm` files are.
pub fn guests() -> PathBuf {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    OUT.get_or_init(|| guest_build::build_workspace(&guest_build::repository_guest_workspace()).unwrap_or_else(|e| panic!("{e}"))).clone()
}

pub fn guest(crate_name: &str) -> PathBuf {
    guest_build::artifact(&guests(), crate_name)
}

/// One runtime for all tests (each owns an epoch thread and a pool), caching compiled
/// components next to the guest build so reruns skip compilation.
pub fn runtime() -> Arc<WasmRuntime> {
    static RT: OnceLock<Arc<WasmRuntime>> = OnceLock::new();
    RT.get_or_init(|| {
        let cache = guest_build::repository_guest_workspace().join("target").join("steward-test-cache");
        WasmRuntime::new(&WasmRuntimeConfig { cache_dir: Some(cache), ..WasmRuntimeConfig::default() }).unwrap()
    })
    .clone()
}

/// A bundled plugin's directory, with the bundled components built and installed.
pub fn bundled(name: &str) -> PathBuf {
    static PLUGINS: OnceLock<PathBuf> = OnceLock::new();
    PLUGINS.get_or_init(|| guest_build::build_and_install_bundled().unwrap_or_else(|e| panic!("{e}"))).join(name)
}

/// A plugin directory named `name` in a fresh temporary directory, holding `files`.
pub fn plugin_dir(name: &str, files: &[(&str, &[u8])]) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, bytes) in files {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    (root, dir)
}

/// A manifest for the bad guest with the given hooks.
pub fn bad_guest_dir(hooks: &str, extra: &str) -> (tempfile::TempDir, PathBuf) {
    let wasm = std::fs::read(guest("bad-guest")).unwrap();
    let manifest = format!(
        "name = \"bad-guest\"\nversion = \"0.1.0\"\ncontract = \"steward:plugin@1\"\nruntime = \"wasm\"\nentry = \"bad.wasm\"\nhooks = [{hooks}]\n{extra}"
    );
    plugin_dir("bad-guest", &[("plugin.toml", manifest.as_bytes()), ("bad.wasm", &wasm)])
}

/// Runs `f` with a subscriber that records this thread's log lines, and returns them.
pub fn capture_logs<R>(f: impl FnOnce() -> R) -> (R, String) {
    use std::sync::Mutex;
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_ansi(false).with_writer(move || writer.clone()).finish();
    let result = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    (result, text)
}
