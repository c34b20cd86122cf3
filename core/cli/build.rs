//! Builds the bundled WASM plugins (and the WASM test fixtures of the same guest workspace) and
//! puts each component beside its manifest, where the manifest's `entry` points
//! (`plugins/<name>/<name_with_underscores>.wasm`, gitignored), so the first
//! `cargo run --release -- serve` of a fresh clone loads all four bundled plugins.
//!
//! The guests are a cargo workspace of their own (`plugins/Cargo.toml`) built for wasm32-wasip2
//! into their own target directory (`plugins/target`): a nested cargo on the host's target
//! directory would wait forever for the lock the outer build holds. It runs once per build of
//! this crate, and only when guest sources, manifests or the SDK change
//! (`cargo:rerun-if-changed`); tests reuse what it built. Std only: a build dependency on the
//! plugin host would compile wasmtime a second time.

use std::path::{Path, PathBuf};
use std::process::Command;

const GUEST_TARGET: &str = "wasm32-wasip2";
const MANIFEST_FILE: &str = "plugin.toml";

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo")).join("../..");
    let workspace = root.join("plugins");
    watch(&root, &workspace);
    if let Err(message) = build(&workspace) {
        // Not fatal: the server still runs and lists each unbuilt plugin as `not_built` with
        // the command that builds it.
        for line in message.lines() {
            println!("cargo:warning={line}");
        }
        // A failure must not be remembered: watching a path that never exists makes cargo run
        // this script again on the next build (after the target is added, say).
        println!("cargo:rerun-if-changed={}", workspace.join("target/.rebuild-after-a-failed-build").display());
    }
}

/// Sources only, never the built components: a file the script writes would look changed to
/// cargo on every later build and make it rerun (and relink) each time.
fn watch(root: &Path, workspace: &Path) {
    let mut paths = vec![
        workspace.join("Cargo.toml"),
        workspace.join("Cargo.lock"),
        root.join("sdk/Cargo.toml"),
        root.join("sdk/src"),
        root.join("sdk/wit"),
    ];
    for parent in [workspace.to_owned(), root.join("tests/fixtures/plugins")] {
        for dir in std::fs::read_dir(&parent).into_iter().flatten().flatten().map(|e| e.path()) {
            if dir.join("Cargo.toml").is_file() {
                paths.extend([dir.join("Cargo.toml"), dir.join(MANIFEST_FILE), dir.join("src")]);
            }
        }
    }
    for path in paths {
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

fn build(workspace: &Path) -> Result<(), String> {
    let target_dir = workspace.join("target");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(workspace)
        .args(["build", "--release", "--workspace", "--target", GUEST_TARGET])
        .env("CARGO_TARGET_DIR", &target_dir)
        // The host build's settings (flags, `cargo clippy`'s wrapper, a cross target) are not
        // the guests'.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_PRIMARY_PACKAGE")
        .output()
        .map_err(|e| format!("cannot run cargo to build the bundled WASM plugins: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(format!(
            "building the bundled WASM plugins in {} failed (is the {GUEST_TARGET} target installed? `rustup target add {GUEST_TARGET}`):\n{}",
            workspace.display(),
            tail.join("\n")
        ));
    }
    let built = target_dir.join(GUEST_TARGET).join("release");
    for dir in std::fs::read_dir(workspace).map_err(|e| format!("{}: {e}", workspace.display()))?.flatten().map(|e| e.path()) {
        if !(dir.join("Cargo.toml").is_file() && dir.join(MANIFEST_FILE).is_file()) {
            continue;
        }
        let file = format!("{}.wasm", dir.file_name().unwrap_or_default().to_string_lossy().replace('-', "_"));
        install(&built.join(&file), &dir.join(&file)).map_err(|e| format!("installing {file} into {}: {e}", dir.display()))?;
    }
    Ok(())
}

/// Copies only when the content differs, through a rename so a running server never reads
/// half a file.
fn install(artifact: &Path, dest: &Path) -> std::io::Result<()> {
    let new = std::fs::read(artifact)?;
    if std::fs::read(dest).ok().as_deref() == Some(new.as_slice()) {
        return Ok(());
    }
    let tmp = dest.with_extension(format!("wasm.build{}", std::process::id()));
    std::fs::write(&tmp, &new)?;
    std::fs::rename(&tmp, dest)
}
