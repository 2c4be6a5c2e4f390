//! The figures as a table, and each target as PASS or MISS with its numbers.

use std::fmt::Write;

use crate::load::{Latency, ms};
use crate::procstat::Usage;

/// One phase's figures.
pub struct Row {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    /// Answered requests per second.
    pub rate: f64,
    pub lat: Latency,
    pub usage: Option<Usage>,
    /// Lines printed under the table for this phase.
    pub detail: Vec<String>,
}

/// A target and whether it was met.
pub struct Check {
    pub pass: bool,
    pub target: String,
    pub figures: String,
}

impl Check {
    pub fn new(pass: bool, target: impl Into<String>, figures: impl Into<String>) -> Check {
        Check {
            pass,
            target: target.into(),
            figures: figures.into(),
        }
    }

    pub fn miss(target: impl Into<String>, figures: impl Into<String>) -> Check {
        Check::new(false, target, figures)
    }
}

pub struct Report {
    pub quick: bool,
    pub header: Vec<String>,
    pub rows: Vec<Row>,
    /// The trivial handler's request rate.
    pub ceiling: Option<f64>,
    pub checks: Vec<Check>,
    pub notes: Vec<String>,
    /// Another target's run of the same phases (`--compare-lan`): its req/s and p99
    /// are printed beside each row of the same phase, and its targets after these.
    pub compare: Option<Box<Report>>,
}

/// What a row's phase is, whatever its numbers: its name before ` (` and ` over `.
fn phase_key(name: &str) -> &str {
    let head = name.split(" (").next().unwrap_or(name);
    head.split(" over ").next().unwrap_or(head)
}

impl Report {
    pub fn new(quick: bool) -> Report {
        Report {
            quick,
            header: Vec::new(),
            rows: Vec::new(),
            ceiling: None,
            checks: Vec::new(),
            notes: Vec::new(),
            compare: None,
        }
    }

    /// Target: `row`'s request rate is at least `share` of the ceiling's.
    pub fn check_ratio(&mut self, row: &Row, what: &str, share: f64) {
        let pct = (share * 100.0).round();
        match self.ceiling {
            Some(ceiling) if ceiling > 0.0 => self.checks.push(Check::new(
                row.errors == 0 && row.rate >= share * ceiling,
                format!("{what}: at least {pct}% of the trivial handler's request rate"),
                format!(
                    "{:.0} req/s = {:.1}% of {:.0} req/s",
                    row.rate,
                    row.rate / ceiling * 100.0,
                    ceiling
                ),
            )),
            _ => self.notes.push(format!(
                "{what}: no ceiling measured in this run, so no ratio (run the ceiling phase too)"
            )),
        }
    }

    /// Target: p99 under `target_ms`.
    pub fn check_p99(&mut self, row: &Row, what: &str, target_ms: u32) {
        let behind = row.detail.iter().any(|d| d.starts_with("fell behind"));
        self.checks.push(Check::new(
            row.errors == 0 && !behind && row.lat.p99_us < target_ms * 1000,
            format!("{what}: p99 under {target_ms} ms"),
            format!(
                "p99 {} (p50 {}, max {}) at {:.0} req/s{}",
                ms(row.lat.p99_us),
                ms(row.lat.p50_us),
                ms(row.lat.max_us),
                row.rate,
                if behind {
                    ", fell behind the schedule"
                } else {
                    ""
                }
            ),
        ));
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "== tessera-bench results ==");
        for h in &self.header {
            let _ = writeln!(s, "{h}");
        }
        let _ = writeln!(s);
        let mut heads = vec![
            "phase",
            "requests",
            "errors",
            "req/s",
            "p50",
            "p99",
            "max",
            "server RSS",
            "server CPU",
            "client CPU",
            "vs ceiling",
        ];
        if self.compare.is_some() {
            heads.extend(["LAN req/s", "LAN p99"]);
        }
        let mut table: Vec<Vec<String>> = vec![heads.iter().map(|h| h.to_string()).collect()];
        for r in &self.rows {
            let usage = r.usage.unwrap_or_default();
            let mut cells = vec![
                r.name.clone(),
                r.requests.to_string(),
                r.errors.to_string(),
                format!("{:.0}", r.rate),
                ms(r.lat.p50_us),
                ms(r.lat.p99_us),
                ms(r.lat.max_us),
                format!("{:.1} MB", usage.peak_rss as f64 / 1e6),
                format!("{:.0}%", usage.server_cpu_pct),
                format!("{:.0}%", usage.client_cpu_pct),
                match self.ceiling {
                    Some(c) if c > 0.0 => format!("{:.1}%", r.rate / c * 100.0),
                    _ => "-".into(),
                },
            ];
            if let Some(other) = &self.compare {
                match other
                    .rows
                    .iter()
                    .find(|o| phase_key(&o.name) == phase_key(&r.name))
                {
                    Some(o) => cells.extend([format!("{:.0}", o.rate), ms(o.lat.p99_us)]),
                    None => cells.extend(["-".to_owned(), "-".to_owned()]),
                }
            }
            table.push(cells);
        }
        let widths: Vec<usize> = (0..heads.len())
            .map(|i| {
                table
                    .iter()
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for (n, line) in table.iter().enumerate() {
            let cells: Vec<String> = line
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if i == 0 {
                        format!("{c:<w$}", w = widths[i])
                    } else {
                        format!("{c:>w$}", w = widths[i])
                    }
                })
                .collect();
            let _ = writeln!(s, "| {} |", cells.join(" | "));
            if n == 0 {
                let rule: Vec<String> = widths
                    .iter()
                    .enumerate()
                    .map(|(i, w)| {
                        if i == 0 {
                            "-".repeat(*w)
                        } else {
                            format!("{}:", "-".repeat(w.saturating_sub(1)))
                        }
                    })
                    .collect();
                let _ = writeln!(s, "| {} |", rule.join(" | "));
            }
        }
        let details: Vec<&Row> = self.rows.iter().filter(|r| !r.detail.is_empty()).collect();
        if !details.is_empty() {
            let _ = writeln!(s);
            for r in details {
                for d in &r.detail {
                    let _ = writeln!(s, "  {}: {d}", r.name);
                }
            }
        }
        let _ = writeln!(s);
        if self.quick {
            let _ = writeln!(
                s,
                "targets (quick mode: small numbers for a smoke run; the targets are judged by a full run):"
            );
        } else {
            let _ = writeln!(s, "targets:");
        }
        self.write_targets(&mut s);
        if let Some(other) = &self.compare {
            let _ = writeln!(
                s,
                "\nthe LAN license server in the same run (--compare-lan), its targets:"
            );
            other.write_targets(&mut s);
        }
        s
    }

    /// Each target as PASS or MISS with its figures, then the notes.
    fn write_targets(&self, s: &mut String) {
        for c in &self.checks {
            let _ = writeln!(
                s,
                "  [{}] {}: {}",
                if c.pass { "PASS" } else { "MISS" },
                c.target,
                c.figures
            );
        }
        for n in &self.notes {
            let _ = writeln!(s, "  note: {n}");
        }
    }
}
