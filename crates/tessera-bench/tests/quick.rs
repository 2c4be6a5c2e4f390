//! `tessera-bench --quick` against the real `tessera` binary: it sets everything up,
//! runs every phase, stops by itself and prints the table. Figures are printed, never
//! asserted: speed belongs to benchmark runs, not to timed tests. What is asserted is
//! that the load did happen (non-zero rates) and that acknowledged leases survived the
//! kill -9, which is correctness, not speed.

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

#[test]
fn quick_run_prints_the_table_with_every_phase() {
    let tessera = tessera_binary();
    let out = Command::new(BENCH)
        .args(["--quick", "--tessera"])
        .arg(&tessera)
        // Smaller still than --quick, for unoptimized builds on a busy CI machine.
        .args([
            "--duration",
            "1",
            "--scale-leases",
            "600",
            "--scale-duration",
            "2",
        ])
        .args(["--scale-create-limit", "60", "--heartbeat-leases", "100"])
        .args(["--growth-leases", "300", "--scale-pools", "5"])
        .output()
        .expect("tessera-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}\n{stderr}");
    assert!(
        out.status.success(),
        "tessera-bench failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("== tessera-bench results =="), "{stdout}");
    assert!(stdout.contains("load average at start"), "{stdout}");

    let rows = table(&stdout);
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    for phase in [
        "ceiling: trivial handler",
        "checkout+checkin cycles",
        "heartbeats (",
        "cycles at half peak",
        "heartbeats at half peak",
        "growth: take 300 leases in one pool",
        "growth: cycles",
        "scale: take 600 leases over 5 pools",
        "scale: heartbeats of",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(phase)),
            "no row for {phase} in {names:?}"
        );
    }
    for row in &rows {
        assert_eq!(row.len(), 11, "{row:?}");
        let requests: u64 = row[1].parse().unwrap();
        let rate: f64 = row[3].parse().unwrap();
        assert!(requests > 0 && rate > 0.0, "no load in {row:?}");
        assert!(
            row[7].ends_with(" MB") && row[7] != "0.0 MB",
            "no RSS in {row:?}"
        );
    }

    // Every target has a verdict line, whatever it is on this machine.
    for target in [
        "checkout+checkin cycles: at least 40%",
        "heartbeats: at least 60%",
        "cycles at half the peak rate: p99",
        "heartbeats at half the peak rate: p99",
        "live leases heartbeating: RSS under 300 MB",
        "start-up after a crash",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| (l.contains("[PASS]") || l.contains("[MISS]")) && l.contains(target)),
            "no verdict for {target}:\n{stdout}"
        );
    }
    // Correctness, not speed: what the server acknowledged survived its kill -9.
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("[PASS] durability: acknowledged leases survive kill -9")),
        "{stdout}"
    );
}
