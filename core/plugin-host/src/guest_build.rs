//! Builds WebAssembly guest crates (`cargo build --target wasm32-wasip2 --release`) so tests,
//! the benchmark and `steward plugin test` can use them without a manual step.
//!
//! Guests are built in their own cargo workspace with their own target directory, never as
//! part of the host build. Cargo's own up-to-date checks make repeated builds cheap; within a
//! process each workspace is built at most once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

pub const GUEST_TARGET: &str = "wasm32-wasip2";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("building WASM guests in {workspace} failed: {message}")]
pub struct BuildError {
    pub workspace: String,
    pub message: String,
}

/// The repository's guest workspace: bundled plugins and the bad-guest test fixtures.
pub fn repository_guest_workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins")
}

/// Builds every crate of the guest workspace at `workspace` (a directory with a `Cargo.toml`)
/// and returns the directory holding the `.wasm` files. Once per workspace per process.
pub fn build_workspace(workspace: &Path) -> Result<PathBuf, BuildError> {
    type Build = Arc<OnceLock<Result<PathBuf, BuildError>>>;
    static BUILDS: OnceLock<Mutex<HashMap<PathBuf, Build>>> = OnceLock::new();
    let key = workspace.canonicalize().unwrap_or_else(|_| workspace.to_owned());
    let cell = BUILDS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner()).entry(key.clone()).or_default().clone();
    cell.get_or_init(|| run_cargo(&key)).clone()
}

/// The built component of crate `crate_name` (dashes become underscores, as cargo names it).
pub fn artifact(out_dir: &Path, crate_name: &str) -> PathBuf {
    out_dir.join(format!("{}.wasm", crate_name.replace('-', "_")))
}

fn run_cargo(workspace: &Path) -> Result<PathBuf, BuildError> {
    build_workspace_into(workspace, &workspace.join("target"))
}

/// Builds the guest workspace at `workspace` into `target_dir` (several guest workspaces may
/// share one target directory to reuse compiled dependencies) and returns the `.wasm` directory.
pub fn build_workspace_into(workspace: &Path, target_dir: &Path) -> Result<PathBuf, BuildError> {
    let err = |message: String| BuildError { workspace: workspace.display().to_string(), message };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(workspace)
        .args(["build", "--release", "--workspace", "--target", GUEST_TARGET])
        // The host build's settings must not leak into the guest build.
        .env("CARGO_TARGET_DIR", target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .map_err(|e| err(format!("cannot run cargo: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("target may not be installed") || stderr.contains("can't find crate for `core`") {
            format!("\nhint: run `rustup target add {GUEST_TARGET}`")
        } else {
            String::new()
        };
        let tail: Vec<&str> = stderr.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(err(format!("{}{hint}", tail.join("\n"))));
    }
    Ok(target_dir.join(GUEST_TARGET).join("release"))
}

/// Copies a built component to `dest` if its content differs (atomically, so a plugin host
/// reading `dest` never sees half a file).
pub fn install(artifact: &Path, dest: &Path) -> std::io::Result<()> {
    let new = std::fs::read(artifact)?;
    if std::fs::read(dest).ok().as_deref() == Some(new.as_slice()) {
        return Ok(());
    }
    // Unique per call: tests in one process may install the same file concurrently.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dest.with_extension(format!("wasm.tmp{}-{seq}", std::process::id()));
    std::fs::write(&tmp, &new)?;
    std::fs::rename(&tmp, dest)
}

/// Builds the repository's guest workspace and installs each bundled WASM plugin's component
/// next to its manifest (`plugins/<name>/<name_with_underscores>.wasm`), so `plugins/` can be
/// loaded as is. Returns the plugins directory.
pub fn build_and_install_bundled() -> Result<PathBuf, BuildError> {
    build_and_install_bundled_in(&repository_guest_workspace())
}

/// [`build_and_install_bundled`] for the guest workspace at `workspace` (`plugins/` of the
/// working directory, for `steward plugin build-bundled`).
pub fn build_and_install_bundled_in(workspace: &Path) -> Result<PathBuf, BuildError> {
    if !workspace.join("Cargo.toml").is_file() {
        return Err(BuildError {
            workspace: workspace.display().to_string(),
            message: "no Cargo.toml here: run this from the root of a Steward checkout, or pass --dir to its plugins/ directory".into(),
        });
    }
    let workspace = workspace.to_owned();
    let out = build_workspace(&workspace)?;
    let io_err = |e: std::io::Error| BuildError { workspace: workspace.display().to_string(), message: e.to_string() };
    for entry in std::fs::read_dir(&workspace).map_err(io_err)? {
        let dir = entry.map_err(io_err)?.path();
        if !(dir.join("Cargo.toml").is_file() && dir.join(super::manifest::MANIFEST_FILE).is_file()) {
            continue;
        }
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let built = artifact(&out, &name);
        install(&built, &dir.join(built.file_name().expect("file name"))).map_err(io_err)?;
    }
    Ok(workspace)
}
