//! Tidy checks of the repository itself, after rust-analyzer's `xtask/src/tidy.rs`: the
//! layering that ARCHITECTURE.md promises (read from `cargo metadata`), a `//!` comment
//! at the top of every Rust file saying what it is for, and relative links in the
//! Markdown documents that lead to files and headings that exist. A rule broken here is
//! a fact in ARCHITECTURE.md that stopped being true: fix the code, or the rule and that
//! page together.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// What a crate must never depend on, directly or through other crates. Only normal
/// dependencies count: tests and build scripts may use more. Each rule is an
/// **Architecture Invariant** of ARCHITECTURE.md.
const FORBIDDEN: &[(&str, &[&[&str]])] = &[
    // Domain rules and the trust chain: no I/O, no SQL, no HTTP, no other Tessera crate
    // above them.
    (
        "tessera-core",
        &[NET, SQL, HTTP, CLI, TOKEN, STORE, SERVERS, CLIENT],
    ),
    (
        "tessera-token",
        &[NET, SQL, HTTP, CLI, STORE, SERVERS, CLIENT],
    ),
    // Storage knows no HTTP and keeps tokens as text: it never signs or verifies one.
    ("tessera-store", &[HTTP, CLI, TOKEN, SERVERS, CLIENT]),
    // What a licensed program links: no async runtime, no database, no server.
    (
        "tessera-client",
        &[NET, SQL, SERVER_HTTP, CLI, STORE, SERVERS],
    ),
    ("tessera-ffi", &[NET, SQL, SERVER_HTTP, CLI, STORE, SERVERS]),
    // The LAN server sits below the portal and sends no e-mail.
    (
        "tessera-server",
        &[CLI, CLIENT, &["tessera-portal", "lettre"]],
    ),
    ("tessera-portal", &[CLI, CLIENT]),
    // The bench talks to the server over HTTP only, as a client would.
    ("tessera-bench", &[TOKEN, STORE, SERVERS, CLIENT]),
];

/// Who alone may depend directly on a library (or workspace crate).
const ONLY: &[(&str, &[&str])] = &[
    ("sqlx", &["tessera-store"]),
    ("pasetors", &["tessera-token"]),
    // tessera-bench measures the servers against a trivial axum handler on the same stack.
    (
        "axum",
        &["tessera-server", "tessera-portal", "tessera-bench"],
    ),
    ("askama", &["tessera-server", "tessera-portal"]),
    ("lettre", &["tessera-portal"]),
    // Command lines: the `tessera` binary, and the bench's own binary.
    ("clap", &["tessera", "tessera-bench"]),
    ("tessera-server", &["tessera", "tessera-portal"]),
    ("tessera-portal", &["tessera"]),
    // The binaries are the top: nothing depends on them.
    ("tessera", &[]),
    ("tessera-bench", &[]),
];

const NET: &[&str] = &["tokio", "mio", "socket2"];
const SQL: &[&str] = &["sqlx", "sqlx-core", "libsqlite3-sys"];
const SERVER_HTTP: &[&str] = &["axum", "hyper", "tower", "tower-http", "askama"];
const HTTP: &[&str] = &[
    "axum",
    "hyper",
    "http",
    "tower",
    "tower-http",
    "askama",
    "ureq",
    "reqwest",
    "lettre",
];
const CLI: &[&str] = &["clap"];
const TOKEN: &[&str] = &["tessera-token", "pasetors"];
const STORE: &[&str] = &["tessera-store"];
const SERVERS: &[&str] = &["tessera-server", "tessera-portal"];
const CLIENT: &[&str] = &["tessera-client", "tessera-ffi"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace folder")
}

/// The resolved graph of normal dependencies: package name → names it depends on.
struct Graph {
    members: BTreeSet<String>,
    deps: HashMap<String, BTreeSet<String>>,
}

impl Graph {
    fn load() -> Graph {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let out = Command::new(cargo)
            .args(["metadata", "--format-version", "1"])
            .current_dir(workspace())
            .output()
            .expect("cargo metadata runs");
        assert!(
            out.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata's JSON");
        let name_of: HashMap<&str, &str> = meta["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
            .collect();
        let members = meta["workspace_members"]
            .as_array()
            .expect("workspace_members")
            .iter()
            .map(|id| name_of[id.as_str().unwrap()].to_owned())
            .collect();
        let mut deps: HashMap<String, BTreeSet<String>> = HashMap::new();
        for node in meta["resolve"]["nodes"].as_array().expect("resolve.nodes") {
            let from = name_of[node["id"].as_str().unwrap()].to_owned();
            let normal = node["deps"].as_array().unwrap().iter().filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].is_null())
            });
            let entry = deps.entry(from).or_default();
            entry.extend(normal.map(|d| name_of[d["pkg"].as_str().unwrap()].to_owned()));
        }
        Graph { members, deps }
    }

    fn direct(&self, name: &str) -> &BTreeSet<String> {
        static EMPTY: BTreeSet<String> = BTreeSet::new();
        self.deps.get(name).unwrap_or(&EMPTY)
    }

    /// The chain from `from` to each package it depends on, directly or not.
    fn reachable(&self, from: &str) -> HashMap<String, Vec<String>> {
        let mut paths: HashMap<String, Vec<String>> = HashMap::new();
        let mut queue = VecDeque::from([vec![from.to_owned()]]);
        while let Some(path) = queue.pop_front() {
            for next in self.direct(path.last().unwrap()) {
                if !paths.contains_key(next) && next != from {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    paths.insert(next.clone(), longer.clone());
                    queue.push_back(longer);
                }
            }
        }
        paths
    }
}

#[test]
fn crates_depend_only_on_what_their_architecture_invariant_allows() {
    let graph = Graph::load();
    let mut broken = Vec::new();
    for (krate, forbidden) in FORBIDDEN {
        assert!(
            graph.members.contains(*krate),
            "a layering rule names `{krate}`, which is not a workspace member"
        );
        let reachable = graph.reachable(krate);
        for banned in forbidden.iter().flat_map(|group| group.iter()) {
            if let Some(path) = reachable.get(*banned) {
                broken.push(format!(
                    "{krate} must not depend on {banned}: {}",
                    path.join(" → ")
                ));
            }
        }
    }
    for (library, allowed) in ONLY {
        for member in &graph.members {
            if graph.direct(member).contains(*library) && !allowed.contains(&member.as_str()) {
                let who = match allowed.join(", ") {
                    none if none.is_empty() => "nothing".to_owned(),
                    some => format!("only {some}"),
                };
                broken.push(format!("{who} may depend on {library}, but {member} does"));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "dependencies break the layering of ARCHITECTURE.md:\n  {}",
        broken.join("\n  ")
    );
}

/// Every `.rs` file under `dir`, skipping build output and installed packages.
fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("a folder entry").path();
        let name = path.file_name().unwrap().to_string_lossy();
        if path.is_dir() {
            if !matches!(
                name.as_ref(),
                "target" | "node_modules" | "corpus" | "artifacts"
            ) {
                rust_files(&path, found);
            }
        } else if name.ends_with(".rs") {
            found.push(path);
        }
    }
}

#[test]
fn every_rust_file_opens_with_a_module_comment() {
    let root = workspace();
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    rust_files(&root.join("fuzz"), &mut files);
    assert!(files.len() > 100, "found only {} Rust files", files.len());
    let mut missing: Vec<String> = files
        .iter()
        .filter(|file| {
            let text = std::fs::read_to_string(file).expect("a readable source file");
            let first = text.lines().find(|line| !line.trim().is_empty());
            !first.is_some_and(|line| line.starts_with("//!"))
        })
        .map(|file| file.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    missing.sort();
    assert!(
        missing.is_empty(),
        "these files do not open with a `//!` comment saying what they are for:\n  {}",
        missing.join("\n  ")
    );
}

/// The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown file's headings (outside code blocks), as GitHub makes them.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut anchors = BTreeSet::new();
    for line in prose_lines(text) {
        let Some(heading) = line.strip_prefix('#') else {
            continue;
        };
        let base = slug(heading.trim_start_matches('#'));
        let n = seen.entry(base.clone()).or_default();
        anchors.insert(if *n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        });
        *n += 1;
    }
    anchors
}

/// The lines of a Markdown file outside fenced code blocks.
fn prose_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut fenced = false;
    text.lines().filter(move |line| {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            return false;
        }
        !fenced
    })
}

/// The targets of inline links `[text](target)` and of definitions `[name]: target`.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose_lines(text) {
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            targets.push(after[..end].trim().to_owned());
            rest = &after[end..];
        }
        let trimmed = line.trim_start();
        if let Some(def) = trimmed.strip_prefix('[').and_then(|l| l.split_once("]: ")) {
            targets.push(def.1.trim().to_owned());
        }
    }
    targets
}

#[test]
fn relative_links_in_the_documents_lead_to_files_and_headings_that_exist() {
    let root = workspace();
    let mut documents = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    let mut guides: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("the docs folder")
        .map(|e| e.expect("a folder entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    guides.sort();
    documents.extend(guides);
    let mut broken = Vec::new();
    for document in &documents {
        let text = std::fs::read_to_string(document)
            .unwrap_or_else(|e| panic!("{}: {e}", document.display()));
        let name = document.strip_prefix(&root).unwrap().display().to_string();
        for target in link_targets(&text) {
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = match target.split_once('#') {
                Some((file, anchor)) => (file, Some(anchor)),
                None => (target.as_str(), None),
            };
            let path = if file.is_empty() {
                document.clone()
            } else {
                document.parent().unwrap().join(file)
            };
            if !path.exists() {
                broken.push(format!("{name}: {target} (no such file)"));
                continue;
            }
            if !path.canonicalize().unwrap().starts_with(&root) {
                broken.push(format!("{name}: {target} (outside the repository)"));
                continue;
            }
            let Some(anchor) = anchor else { continue };
            if path.extension().is_some_and(|e| e == "md") {
                let linked = std::fs::read_to_string(&path).expect("a readable document");
                if !anchors(&linked).contains(anchor) {
                    broken.push(format!("{name}: {target} (no such heading)"));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links that lead nowhere:\n  {}",
        broken.join("\n  ")
    );
}

#[test]
fn headings_become_the_anchors_github_gives_them() {
    assert_eq!(slug(" The data folder"), "the-data-folder");
    assert_eq!(
        slug(" `tessera-core`: rules, no I/O"),
        "tessera-core-rules-no-io"
    );
    assert_eq!(slug(" Checkout → Paid"), "checkout--paid");
    let text = "# A\n```\n# not a heading\n```\n## A\n";
    assert_eq!(
        anchors(text),
        BTreeSet::from(["a".to_owned(), "a-1".to_owned()])
    );
    assert_eq!(
        link_targets("see [x](docs/a.md#b) and [y](#c)\n[d]: e.md\n```\n[z](nope)\n```"),
        ["docs/a.md#b", "#c", "e.md"]
    );
}
