//! Test helpers: the guest build, a shared WASM runtime, bundled plugin directories and
//! throw-away plugin directories written by code.

use super::guest_build;
use super::wasm::{WasmRuntime, WasmRuntimeConfig};
use std::path::{Path, PathBuf};
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

/// A bundled plugin's directory, with its component built and installed when it has one.
pub fn bundled(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("plugins").join(name);
    let wasm_crate = dir.join("Cargo.toml").is_file();
    if wasm_crate {
        let artifact = guest(name);
        let dest = dir.join(artifact.file_name().expect("file name"));
        guest_build::install(&artifact, &dest).unwrap();
    }
    dir
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
