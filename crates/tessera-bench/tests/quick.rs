//! `tessera-bench --quick` against the real `tessera` binary: it sets everything up,
//! runs every phase, stops by itself and prints the table. Figures are printed, never
//! asserted: speed belongs to benchmark runs, not to timed tests. What is asserted is
//! that the load did happen (non-zero rates) and that acknowledged leases survived the
//! kill -9, which is correctness, not speed. The web target's run needs PostgreSQL: it
//! is skipped without one unless `TESSERA_REQUIRE_POSTGRES` is set (CI).

use std::path::PathBuf;
use std::process::Command;

const BENCH: &str = env!("CARGO_BIN_EXE_tessera-bench");

/// The `tessera` binary of the same build, made if it is not there yet.
fn tessera_binary() -> PathBuf {
    let dir = PathBuf::from(BENCH).parent().unwrap().to_owned();
    let bin = dir.join(format!("tessera{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        let cargo = option_env!("CARGO").unwrap_or("cargo");
        let mut build = Command::new(cargo);
        build.args(["build", "-p", "tessera"]);
        if dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "cargo build -p tessera failed");
    }
    assert!(bin.is_file(), "no tessera binary at {}", bin.display());
    bin
}

/// The cells of the results table's rows, by phase name.
fn table(output: &str) -> Vec<Vec<String>> {
    output
        .lines()
        .skip_while(|l| !l.starts_with("| phase"))
        .skip(2)
        .take_while(|l| l.starts_with("| "))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect()
}

/// Runs the bench with `--quick`, smaller still (for unoptimized builds on a busy CI
/// machine), and `extra` arguments; its standard output, once it succeeded.
fn quick_run(extra: &[&str]) -> String {
    let tessera = tessera_binary();
    let out = Command::new(BENCH)
        .args(["--quick", "--tessera"])
        .arg(&tessera)
        .args([
            "--duration",
            "1",
            "--scale-leases",
            "600",
            "--scale-duration",
            "2",
        ])
        .args(["--scale-create-limit", "60", "--heartbeat-leases", "100"])
        .args(["--growth-leases", "300"])
        .args(extra)
        .output()
        .expect("tessera-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}\n{stderr}");
    assert!(
        out.status.success(),
        "tessera-bench failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("== tessera-bench results =="), "{stdout}");
    assert!(stdout.contains("load average at start"), "{stdout}");
    stdout
}

#[test]
fn quick_run_prints_the_table_with_every_phase() {
    let stdout = quick_run(&["--scale-pools", "5"]);
    every_phase_and_target(&stdout, "scale: take 600 leases over 5 pools", 5, 11);
}

/// The web license server on PostgreSQL, two portal nodes: the same phases over the
/// organizations' realms, and the node killed with -9 loses no acknowledged lease.
#[test]
fn quick_web_run_prints_the_table_with_every_phase() {
    let url = std::env::var("TESSERA_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let reachable = Command::new("psql")
        .args(["--quiet", "--no-psqlrc", "--dbname", &url, "-c", "SELECT 1"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !reachable {
        assert!(
            std::env::var_os("TESSERA_REQUIRE_POSTGRES").is_none(),
            "PostgreSQL is required (TESSERA_REQUIRE_POSTGRES is set) but psql cannot reach {url}"
        );
        eprintln!("skipped: the web target needs PostgreSQL and psql ({url} is not reachable)");
        return;
    }
    let stdout = quick_run(&[
        "--target",
        "web",
        "--database-url",
        &url,
        "--organizations",
        "20",
        "--nodes",
        "2",
        "--compare-lan",
    ]);
    assert!(
        stdout.contains(
            "20 organizations (a realm, a Paid web order and a site key each), 2 portal node(s)"
        ),
        "{stdout}"
    );
    // With --compare-lan: the LAN server's req/s and p99 beside each row, its targets after.
    every_phase_and_target(
        &stdout,
        "scale: take 600 leases over 20 organizations",
        10,
        13,
    );
    assert!(
        stdout.contains("the LAN license server in the same run (--compare-lan), its targets:"),
        "{stdout}"
    );
    for row in table(&stdout) {
        assert!(
            row[11] != "-" && row[12].ends_with(" ms"),
            "no LAN figures in {row:?}"
        );
    }
    assert!(
        stdout
            .lines()
            .any(|l| (l.contains("[PASS]") || l.contains("[MISS]"))
                && l.contains("600 live leases over 20 organizations heartbeated at")
                && l.contains("p99 under 10 ms")),
        "{stdout}"
    );
}

/// Every phase has its row (of `columns` cells) with load in it, every target its
/// verdict, and what the server acknowledged survived its kill -9.
fn every_phase_and_target(stdout: &str, scale_row: &str, p99_ms: u32, columns: usize) {
    let rows = table(stdout);
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    for phase in [
        "ceiling: trivial handler",
        "checkout+checkin cycles",
        "heartbeats (",
        "cycles at half peak",
        "heartbeats at half peak",
        "growth: take 300 leases in one pool",
        "growth: cycles",
        scale_row,
        "scale: heartbeats of",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(phase)),
            "no row for {phase} in {names:?}"
        );
    }
    for row in &rows {
        assert_eq!(row.len(), columns, "{row:?}");
        let requests: u64 = row[1].parse().unwrap();
        let rate: f64 = row[3].parse().unwrap();
        assert!(requests > 0 && rate > 0.0, "no load in {row:?}");
        assert!(
            row[7].ends_with(" MB") && row[7] != "0.0 MB",
            "no RSS in {row:?}"
        );
    }

    // Every target has a verdict line, whatever it is on this machine (this target's:
    // those of a --compare-lan run come after).
    let own = stdout
        .split("the LAN license server in the same run")
        .next()
        .unwrap_or(stdout);
    let p99 = format!("p99 under {p99_ms} ms");
    for target in [
        "checkout+checkin cycles: at least 12%",
        "heartbeats: at least 35%",
        &format!("cycles at half the peak rate: {p99}"),
        &format!("heartbeats at half the peak rate: {p99}"),
        "live leases heartbeating: RSS under 300 MB",
        "start-up after a crash",
    ] {
        assert!(
            own.lines()
                .any(|l| (l.contains("[PASS]") || l.contains("[MISS]")) && l.contains(target)),
            "no verdict for {target}:\n{stdout}"
        );
    }
    // Correctness, not speed: what the server acknowledged survived its kill -9.
    assert!(
        own.lines()
            .any(|l| l.contains("[PASS] durability: acknowledged leases survive kill -9")),
        "{stdout}"
    );
}
