//! The office's policy: who may take seats of which pool, and how many. What FlexNet
//! admins write in an options file, as TOML:
//!
//! ```toml
//! [user_groups]
//! engineers = ["anna", "bob"]
//!
//! [host_groups]
//! lab = ["lab-pc-1", "lab-pc-2"]
//!
//! [[rule]]
//! pool = "acad-2026"                  # or: product = "autocad" (every pool that covers it)
//! include = ["group:engineers", "host_group:lab"]
//! exclude = ["user:mallory"]
//! reserve = [{ for = "group:engineers", seats = 2 }]
//! max = [{ for = "user:anna", seats = 1 }]
//! borrow_low_water = 1                # seats that can never be borrowed
//! ```
//!
//! Subjects are `user:NAME`, `group:NAME` (a user group), `host:NAME` and
//! `host_group:NAME`. Exclude wins over include; a non-empty include list admits only
//! those on it. Reserved seats are used by nobody but their owners; an owner whose
//! reserved seats are all taken may still use free unreserved seats. A maximum counts
//! the seats held by everyone the subject matches.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::PoolSpec;

/// A policy file that cannot be used, with where and why.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("line {line}: {reason}")]
pub struct PolicyError {
    pub line: usize,
    pub reason: String,
}

/// Whom a rule is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User(String),
    Group(String),
    Host(String),
    HostGroup(String),
}

impl Subject {
    fn parse(s: &str) -> Result<Self, String> {
        let (kind, name) = s.split_once(':').ok_or_else(|| {
            format!("`{s}` must be user:NAME, group:NAME, host:NAME or host_group:NAME")
        })?;
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("`{s}` names nobody"));
        }
        match kind.trim() {
            "user" => Ok(Subject::User(name.into())),
            "group" => Ok(Subject::Group(name.into())),
            "host" => Ok(Subject::Host(name.into())),
            "host_group" => Ok(Subject::HostGroup(name.into())),
            other => Err(format!("`{other}` is not user, group, host or host_group")),
        }
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::User(n) => write!(f, "user:{n}"),
            Subject::Group(n) => write!(f, "group:{n}"),
            Subject::Host(n) => write!(f, "host:{n}"),
            Subject::HostGroup(n) => write!(f, "host_group:{n}"),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    user_groups: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    host_groups: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    rule: Vec<toml::Spanned<RuleFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    pool: Option<String>,
    product: Option<String>,
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    reserve: Vec<CountFile>,
    #[serde(default)]
    max: Vec<CountFile>,
    #[serde(default)]
    borrow_low_water: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CountFile {
    #[serde(rename = "for")]
    subject: String,
    seats: u32,
}

/// Which pools a rule is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Pool(String),
    Product(String),
}

/// One `[[rule]]`.
#[derive(Debug, Clone)]
pub struct Rule {
    pub line: usize,
    pub target: Target,
    pub include: Vec<Subject>,
    pub exclude: Vec<Subject>,
    pub reserve: Vec<(Subject, u32)>,
    pub max: Vec<(Subject, u32)>,
    pub borrow_low_water: u32,
}

impl Rule {
    fn applies_to(&self, pool: &PoolSpec) -> bool {
        match &self.target {
            Target::Pool(id) => *id == pool.id,
            Target::Product(p) => pool.covers(p),
        }
    }

    fn name(&self) -> String {
        match &self.target {
            Target::Pool(id) => format!("rule for pool {id} (line {})", self.line),
            Target::Product(p) => format!("rule for product {p} (line {})", self.line),
        }
    }
}

/// A parsed, checked policy. The empty policy admits everyone.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    user_groups: BTreeMap<String, Vec<String>>,
    host_groups: BTreeMap<String, Vec<String>>,
    pub rules: Vec<Rule>,
}

/// Someone who holds a seat of a pool now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub user: String,
    pub host: String,
    pub borrowed: bool,
}

/// Why the policy refuses a seat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A rule forbids this person or host: include, exclude, maximum, borrow low-water.
    Denied { rule: String, message: String },
    /// The free seats are reserved for others: like having no seat, and worth waiting for.
    Reserved { message: String },
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl Policy {
    /// The policy that admits everyone (no file).
    pub const EMPTY: Policy = Policy {
        user_groups: BTreeMap::new(),
        host_groups: BTreeMap::new(),
        rules: Vec::new(),
    };

    /// Reads a policy file; errors name the line and the reason.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| PolicyError {
            line: e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
            reason: e.message().to_owned(),
        })?;
        let mut rules = Vec::with_capacity(file.rule.len());
        for spanned in file.rule {
            let line = line_of(text, spanned.span().start);
            let r = spanned.into_inner();
            let err = |reason: String| PolicyError { line, reason };
            let target = match (r.pool, r.product) {
                (Some(p), None) => Target::Pool(p),
                (None, Some(p)) => Target::Product(p),
                _ => {
                    return Err(err(
                        "a rule names either `pool` or `product`, not both or neither".into(),
                    ));
                }
            };
            let subjects = |list: &[String]| -> Result<Vec<Subject>, PolicyError> {
                list.iter()
                    .map(|s| Subject::parse(s).map_err(|reason| PolicyError { line, reason }))
                    .collect()
            };
            let counts = |list: &[CountFile]| -> Result<Vec<(Subject, u32)>, PolicyError> {
                list.iter()
                    .map(|c| {
                        Subject::parse(&c.subject)
                            .map(|s| (s, c.seats))
                            .map_err(|reason| PolicyError { line, reason })
                    })
                    .collect()
            };
            let rule = Rule {
                line,
                target,
                include: subjects(&r.include)?,
                exclude: subjects(&r.exclude)?,
                reserve: counts(&r.reserve)?,
                max: counts(&r.max)?,
                borrow_low_water: r.borrow_low_water,
            };
            let all = rule
                .include
                .iter()
                .chain(&rule.exclude)
                .chain(rule.reserve.iter().map(|(s, _)| s))
                .chain(rule.max.iter().map(|(s, _)| s));
            for s in all {
                match s {
                    Subject::Group(g) if !file.user_groups.contains_key(g) => {
                        return Err(err(format!("no user group `{g}` in [user_groups]")));
                    }
                    Subject::HostGroup(g) if !file.host_groups.contains_key(g) => {
                        return Err(err(format!("no host group `{g}` in [host_groups]")));
                    }
                    _ => {}
                }
            }
            rules.push(rule);
        }
        Ok(Policy {
            user_groups: file.user_groups,
            host_groups: file.host_groups,
            rules,
        })
    }

    /// Whether `subject` matches a person on a host.
    pub fn matches(&self, subject: &Subject, user: &str, host: &str) -> bool {
        match subject {
            Subject::User(u) => u == user,
            Subject::Host(h) => h == host,
            Subject::Group(g) => self
                .user_groups
                .get(g)
                .is_some_and(|m| m.iter().any(|u| u == user)),
            Subject::HostGroup(g) => self
                .host_groups
                .get(g)
                .is_some_and(|m| m.iter().any(|h| h == host)),
        }
    }

    /// Whether `user` on `host` may take a seat of `pool` (a borrow when `borrow`),
    /// given who holds its seats now. `shares` is true when this person already holds a
    /// seat of the pool on this host: sharing it takes no new seat, so only include and
    /// exclude apply.
    pub fn admit(
        &self,
        pool: &PoolSpec,
        user: &str,
        host: &str,
        borrow: bool,
        shares: bool,
        holders: &[Holder],
    ) -> Result<(), Refusal> {
        let rules: Vec<&Rule> = self.rules.iter().filter(|r| r.applies_to(pool)).collect();
        for rule in &rules {
            if let Some(s) = rule.exclude.iter().find(|s| self.matches(s, user, host)) {
                return Err(Refusal::Denied {
                    rule: format!("{}: exclude {s}", rule.name()),
                    message: format!(
                        "{user} on {host} is excluded from {} by the office's policy ({s})",
                        pool.id
                    ),
                });
            }
            if !rule.include.is_empty() && !rule.include.iter().any(|s| self.matches(s, user, host))
            {
                return Err(Refusal::Denied {
                    rule: format!("{}: include", rule.name()),
                    message: format!(
                        "{user} on {host} is not on the include list of {} in the office's policy",
                        pool.id
                    ),
                });
            }
        }
        if shares {
            return Ok(());
        }
        for rule in &rules {
            for (s, max) in &rule.max {
                if !self.matches(s, user, host) {
                    continue;
                }
                let held = holders
                    .iter()
                    .filter(|h| self.matches(s, &h.user, &h.host))
                    .count() as u32;
                if held >= *max {
                    return Err(Refusal::Denied {
                        rule: format!("{}: max {max} for {s}", rule.name()),
                        message: format!(
                            "{s} may hold at most {max} seat(s) of {} and holds {held}",
                            pool.id
                        ),
                    });
                }
            }
            if borrow && rule.borrow_low_water > 0 {
                let borrowed = holders.iter().filter(|h| h.borrowed).count() as u32;
                if borrowed + 1 + rule.borrow_low_water > pool.seats {
                    return Err(Refusal::Denied {
                        rule: format!(
                            "{}: borrow_low_water {}",
                            rule.name(),
                            rule.borrow_low_water
                        ),
                        message: format!(
                            "{} seat(s) of {} must stay in the office and cannot be borrowed",
                            rule.borrow_low_water, pool.id
                        ),
                    });
                }
            }
        }
        // Reservations: the seats reserved for others and not yet used by them are kept.
        let mut kept_for_others = 0u32;
        let mut owners = Vec::new();
        for rule in &rules {
            for (s, n) in &rule.reserve {
                let used = holders
                    .iter()
                    .filter(|h| self.matches(s, &h.user, &h.host))
                    .count() as u32;
                if self.matches(s, user, host) {
                    continue;
                }
                let unused = n.saturating_sub(used);
                if unused > 0 {
                    kept_for_others += unused;
                    owners.push(s.to_string());
                }
            }
        }
        let held = holders.len() as u32;
        if held + kept_for_others >= pool.seats && held < pool.seats {
            return Err(Refusal::Reserved {
                message: format!(
                    "the free seats of {} are reserved for {} by the office's policy",
                    pool.id,
                    owners.join(", ")
                ),
            });
        }
        Ok(())
    }
}

/// What the store asks before it grants a seat; the server's policy answers.
pub trait SeatPolicy: Send + Sync {
    fn admit(
        &self,
        pool: &PoolSpec,
        user: &str,
        host: &str,
        borrow: bool,
        shares: bool,
        holders: &[Holder],
    ) -> Result<(), Refusal>;

    /// Whether `admit` looks at who holds the pool's seats. When it does not, the store
    /// counts them instead of loading every one (a checkout then costs the same with
    /// five leases in the pool or five thousand).
    fn needs_holders(&self, _pool: &PoolSpec) -> bool {
        true
    }
}

impl SeatPolicy for Policy {
    fn admit(
        &self,
        pool: &PoolSpec,
        user: &str,
        host: &str,
        borrow: bool,
        shares: bool,
        holders: &[Holder],
    ) -> Result<(), Refusal> {
        Policy::admit(self, pool, user, host, borrow, shares, holders)
    }

    /// With no rule for the pool, `admit` grants whatever the holders.
    fn needs_holders(&self, pool: &PoolSpec) -> bool {
        self.rules.iter().any(|r| r.applies_to(pool))
    }
}

/// Serializable summary of a parsed policy, for the admin API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicySummary {
    pub rules: usize,
    pub user_groups: usize,
    pub host_groups: usize,
}

impl Policy {
    pub fn summary(&self) -> PolicySummary {
        PolicySummary {
            rules: self.rules.len(),
            user_groups: self.user_groups.len(),
            host_groups: self.host_groups.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LicenseModel;
    use chrono::{Duration, Utc};

    fn pool(id: &str, seats: u32) -> PoolSpec {
        PoolSpec {
            id: id.into(),
            products: vec!["acad".into()],
            model: LicenseModel::Floating,
            seats,
            start: Utc::now() - Duration::days(1),
            end: Utc::now() + Duration::days(1),
            borrow_max_hours: 24,
        }
    }

    fn holder(user: &str, host: &str) -> Holder {
        Holder {
            user: user.into(),
            host: host.into(),
            borrowed: false,
        }
    }

    const GROUPS: &str =
        "[user_groups]\nengineers = [\"anna\", \"bob\"]\n[host_groups]\nlab = [\"lab1\"]\n";

    #[test]
    fn exclude_wins_over_include() {
        let p = Policy::parse(&format!(
            "{GROUPS}[[rule]]\npool = \"p\"\ninclude = [\"group:engineers\"]\nexclude = [\"user:bob\"]\n"
        ))
        .unwrap();
        let pool = pool("p", 5);
        assert!(p.admit(&pool, "anna", "pc", false, false, &[]).is_ok());
        match p.admit(&pool, "bob", "pc", false, false, &[]) {
            Err(Refusal::Denied { rule, .. }) => {
                assert!(rule.contains("exclude user:bob"), "{rule}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            p.admit(&pool, "carol", "pc", false, false, &[]),
            Err(Refusal::Denied { .. })
        ));
        // Another pool is not concerned by the rule.
        assert!(
            p.admit(&self::pool("q", 5), "carol", "pc", false, false, &[])
                .is_ok()
        );
    }

    #[test]
    fn host_groups_and_product_targets_match() {
        let p = Policy::parse(&format!(
            "{GROUPS}[[rule]]\nproduct = \"acad\"\ninclude = [\"host_group:lab\"]\n"
        ))
        .unwrap();
        assert!(
            p.admit(&pool("p", 5), "zoe", "lab1", false, false, &[])
                .is_ok()
        );
        assert!(
            p.admit(&pool("p", 5), "zoe", "home", false, false, &[])
                .is_err()
        );
    }

    #[test]
    fn a_maximum_counts_every_seat_the_subject_holds() {
        let p = Policy::parse(&format!(
            "{GROUPS}[[rule]]\npool = \"p\"\nmax = [{{ for = \"group:engineers\", seats = 2 }}]\n"
        ))
        .unwrap();
        let pool = pool("p", 10);
        let one = [holder("anna", "pc1")];
        assert!(p.admit(&pool, "bob", "pc2", false, false, &one).is_ok());
        let two = [holder("anna", "pc1"), holder("bob", "pc2")];
        assert!(matches!(
            p.admit(&pool, "anna", "pc3", false, false, &two),
            Err(Refusal::Denied { .. })
        ));
        // Sharing an existing seat takes no new one.
        assert!(p.admit(&pool, "anna", "pc1", false, true, &two).is_ok());
        assert!(p.admit(&pool, "carol", "pc4", false, false, &two).is_ok());
    }

    #[test]
    fn reserved_seats_are_kept_for_their_owners() {
        let p = Policy::parse(&format!(
            "{GROUPS}[[rule]]\npool = \"p\"\nreserve = [{{ for = \"user:anna\", seats = 1 }}]\n"
        ))
        .unwrap();
        let pool = pool("p", 2);
        // One free seat is unreserved: carol takes it; then the last one is anna's.
        assert!(p.admit(&pool, "carol", "pc", false, false, &[]).is_ok());
        let held = [holder("carol", "pc")];
        assert!(matches!(
            p.admit(&pool, "dave", "pc2", false, false, &held),
            Err(Refusal::Reserved { .. })
        ));
        assert!(p.admit(&pool, "anna", "pc3", false, false, &held).is_ok());
        // Once anna holds her reserved seat, unreserved ones are open to all again.
        let pool3 = self::pool("p", 3);
        let held = [holder("anna", "pc3")];
        assert!(p.admit(&pool3, "dave", "pc2", false, false, &held).is_ok());
    }

    #[test]
    fn the_borrow_low_water_mark_keeps_seats_in_the_office() {
        let p = Policy::parse("[[rule]]\npool = \"p\"\nborrow_low_water = 2\n").unwrap();
        let pool = pool("p", 3);
        assert!(p.admit(&pool, "anna", "pc", true, false, &[]).is_ok());
        let out = [Holder {
            borrowed: true,
            ..holder("anna", "pc")
        }];
        assert!(matches!(
            p.admit(&pool, "bob", "pc2", true, false, &out),
            Err(Refusal::Denied { .. })
        ));
        // Online use of the remaining seats is untouched.
        assert!(p.admit(&pool, "bob", "pc2", false, false, &out).is_ok());
    }

    #[test]
    fn bad_policies_name_the_line_and_the_reason() {
        let e = Policy::parse("[[rule]]\npool = \"p\"\nincludes = []\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.reason.contains("includes"), "{e}");
        let e = Policy::parse("\n\n[[rule]]\npool = \"p\"\ninclude = [\"group:nobody\"]\n")
            .unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.reason.contains("nobody"), "{e}");
        let e = Policy::parse("[[rule]]\npool = \"p\"\nexclude = [\"team:x\"]\n").unwrap_err();
        assert!(e.reason.contains("team"), "{e}");
        let e = Policy::parse("[[rule]]\ninclude = []\n").unwrap_err();
        assert!(e.reason.contains("either"), "{e}");
        assert!(Policy::parse("x = ").is_err());
        assert!(Policy::parse("").unwrap().rules.is_empty());
    }
}
