//! The layers are crates, and each crate's manifest is its invariant: a crate cannot import
//! what it does not depend on. This test reads the resolved crate graph (`cargo metadata`) and
//! fails, naming the path of dependencies, when a manifest lets a layer reach what it must not.
//!
//! Only normal dependencies count: dev-dependencies never link into the crate, and build
//! dependencies run at build time only. The graph is the host platform's: offline, the
//! packages of other platforms are not at hand.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// How far a rule looks.
#[derive(Clone, Copy, Debug)]
enum Reach {
    /// The crate's own manifest.
    Direct,
    /// Anything the crate links, however far down.
    Transitive,
}

const RULES: &[(&str, Reach, &[&str])] = &[
    // The domain is plain Rust: no database, HTTP, async runtime or plugin runtime at any depth.
    ("steward-domain", Reach::Transitive, &["sqlx", "axum", "tokio", "hyper", "wasmtime", "rhai", "reqwest"]),
    // Handlers reach data only through the services (which do depend on storage).
    ("steward-server", Reach::Direct, &["sqlx", "steward-storage"]),
    // The console's pages likewise reach data only through the services.
    ("steward-console", Reach::Direct, &["sqlx", "steward-storage"]),
    ("steward-services", Reach::Transitive, &["axum"]),
    ("steward-storage", Reach::Transitive, &["axum", "wasmtime", "rhai"]),
];

/// The resolved graph: package name → the names of its normal dependencies.
struct Graph {
    deps: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    fn load() -> Graph {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let version = std::process::Command::new(&cargo).arg("-vV").output().unwrap_or_else(|e| panic!("running {cargo} -vV: {e}"));
        let version = String::from_utf8_lossy(&version.stdout).into_owned();
        let host = version.lines().find_map(|l| l.strip_prefix("host: ")).expect("cargo -vV names the host").trim().to_owned();
        let out = std::process::Command::new(&cargo)
            .args(["metadata", "--format-version", "1", "--offline", "--filter-platform", &host])
            .current_dir(root)
            .output()
            .unwrap_or_else(|e| panic!("running {cargo} metadata: {e}"));
        assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
        let metadata: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata speaks JSON");
        let names: BTreeMap<&str, &str> = metadata["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
            .collect();
        let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for node in metadata["resolve"]["nodes"].as_array().expect("a resolved graph") {
            let name = names[node["id"].as_str().unwrap()].to_owned();
            let normal =
                node["deps"].as_array().unwrap().iter().filter(|d| d["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"].is_null()));
            deps.entry(name).or_default().extend(normal.map(|d| names[d["pkg"].as_str().unwrap()].to_owned()));
        }
        Graph { deps }
    }

    /// The shortest path of normal dependencies from `from` to `to`, if any.
    fn path(&self, from: &str, to: &str, reach: Reach) -> Option<Vec<String>> {
        let direct = self.deps.get(from)?;
        if let Reach::Direct = reach {
            return direct.contains(to).then(|| vec![from.to_owned(), to.to_owned()]);
        }
        let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = VecDeque::from([from]);
        while let Some(at) = queue.pop_front() {
            if at == to {
                let mut path = vec![to.to_owned()];
                let mut step = to;
                while let Some(prev) = came_from.get(step) {
                    path.push((*prev).to_owned());
                    step = prev;
                }
                path.reverse();
                return Some(path);
            }
            for next in self.deps.get(at).into_iter().flatten() {
                if next != from && !came_from.contains_key(next.as_str()) {
                    came_from.insert(next, at);
                    queue.push_back(next);
                }
            }
        }
        None
    }
}

#[test]
fn each_layer_depends_only_on_what_its_manifest_allows() {
    let graph = Graph::load();
    // The rules name crates that are in the graph, and the walk finds paths that exist, so a
    // rule cannot pass because it names nothing.
    for (_, _, forbidden) in RULES {
        for name in *forbidden {
            assert!(graph.deps.contains_key(*name), "`{name}` is not in the crate graph: the rule naming it would be vacuous");
        }
    }
    assert!(graph.path("steward-server", "axum", Reach::Direct).is_some(), "the server serves HTTP with axum");
    let services_to_sqlx = graph.path("steward-services", "sqlx", Reach::Transitive).expect("the services reach SQL through storage");
    assert_eq!(services_to_sqlx.first().map(String::as_str), Some("steward-services"));

    let mut broken = Vec::new();
    for (layer, reach, forbidden) in RULES {
        assert!(graph.deps.contains_key(*layer), "no crate `{layer}` in the workspace");
        for name in *forbidden {
            if let Some(path) = graph.path(layer, name, *reach) {
                broken.push(format!("{layer} must not depend ({reach:?}) on {name}, but does: {}", path.join(" -> ")));
            }
        }
    }
    assert!(broken.is_empty(), "a layer reaches what it must not:\n  {}", broken.join("\n  "));
}
