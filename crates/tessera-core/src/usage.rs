//! Usage figures from recorded sessions: how many seats of a pool were in use, at the
//! peak, in each hour or day, and whether the pool is too small or too large.
//!
//! A seat is (user, host): several sessions of the same seat that overlap count once,
//! as they held one seat.

use std::collections::BTreeMap;

use crate::Millis;

/// One use of a seat between two instants (`end` after `start`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatUse {
    pub user: String,
    pub host: String,
    pub start: Millis,
    pub end: Millis,
}

/// Merges overlapping uses of the same seat, then lists +1/-1 changes in time order
/// (an end before a start at the same instant: a seat handed on is not two seats).
fn changes(uses: &[SeatUse]) -> Vec<(Millis, i32)> {
    let mut by_seat: BTreeMap<(&str, &str), Vec<(Millis, Millis)>> = BTreeMap::new();
    for u in uses.iter().filter(|u| u.end > u.start) {
        by_seat
            .entry((&u.user, &u.host))
            .or_default()
            .push((u.start, u.end));
    }
    let mut events = Vec::new();
    for spans in by_seat.values_mut() {
        spans.sort_unstable();
        let (mut s, mut e) = spans[0];
        for &(ns, ne) in &spans[1..] {
            if ns <= e {
                e = e.max(ne);
            } else {
                events.push((s, 1));
                events.push((e, -1));
                (s, e) = (ns, ne);
            }
        }
        events.push((s, 1));
        events.push((e, -1));
    }
    events.sort_unstable();
    events
}

/// The peak number of seats in use within each of `buckets` consecutive periods of
/// `step` milliseconds starting at `from`.
pub fn peaks(uses: &[SeatUse], from: Millis, step: Millis, buckets: usize) -> Vec<u32> {
    let mut out = vec![0u32; buckets];
    if step <= 0 || buckets == 0 {
        return out;
    }
    let mut level: i64 = 0;
    let mut events = changes(uses).into_iter().peekable();
    for (i, peak) in out.iter_mut().enumerate() {
        let bucket_start = from + step * i as i64;
        let bucket_end = bucket_start + step;
        // Everything up to the bucket's first instant: seats already held, and seats
        // whose use ended exactly as the bucket began (those no longer count).
        while let Some(&(t, d)) = events.peek() {
            if t > bucket_start {
                break;
            }
            level += i64::from(d);
            events.next();
        }
        let mut max = level;
        while let Some(&(t, d)) = events.peek() {
            if t >= bucket_end {
                break;
            }
            level += i64::from(d);
            max = max.max(level);
            events.next();
        }
        *peak = max.max(0) as u32;
    }
    out
}

/// Seat-hours per user, most first: who uses the pool most.
pub fn top_users(uses: &[SeatUse], from: Millis, to: Millis, most: usize) -> Vec<(String, f64)> {
    let mut hours: BTreeMap<&str, Millis> = BTreeMap::new();
    for u in uses {
        let span = u.end.min(to) - u.start.max(from);
        if span > 0 {
            *hours.entry(&u.user).or_default() += span;
        }
    }
    let mut list: Vec<(String, f64)> = hours
        .into_iter()
        .map(|(u, ms)| (u.to_owned(), ms as f64 / 3_600_000.0))
        .collect();
    list.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    list.truncate(most);
    list
}

/// Whether a pool fits its office.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sizing {
    /// Checkouts were refused, or every seat was in use on many days.
    TooSmall {
        denials: u64,
        days_at_limit: usize,
        days: usize,
    },
    /// Never more than half the seats were in use.
    TooLarge {
        highest_peak: u32,
        seats: u32,
        days: usize,
    },
    Fine,
    /// Too little history to say.
    TooEarly,
}

impl Sizing {
    /// What to tell the office, in plain words.
    pub fn advice(&self, pool: &str) -> String {
        match self {
            Sizing::TooSmall {
                denials,
                days_at_limit,
                days,
            } => format!(
                "{pool} looks too small: {denials} checkout(s) were refused for want of a seat, and every seat was in use on {days_at_limit} of the last {days} days. More seats would let everyone work."
            ),
            Sizing::TooLarge {
                highest_peak,
                seats,
                days,
            } => format!(
                "{pool} looks larger than needed: at most {highest_peak} of its {seats} seats were in use on any of the last {days} days."
            ),
            Sizing::Fine => {
                format!("{pool} fits: its seats are used without anyone being turned away.")
            }
            Sizing::TooEarly => format!("{pool}: not enough history yet to judge its size."),
        }
    }
}

/// Judges a pool from its daily peaks and the seat denials over the same days.
pub fn sizing(seats: u32, daily_peaks: &[u32], denials: u64) -> Sizing {
    let days = daily_peaks.len();
    let days_at_limit = daily_peaks
        .iter()
        .filter(|&&p| p >= seats && seats > 0)
        .count();
    if denials > 0 || (days > 0 && days_at_limit * 5 >= days && days_at_limit > 0) {
        return Sizing::TooSmall {
            denials,
            days_at_limit,
            days,
        };
    }
    if days < 7 {
        return Sizing::TooEarly;
    }
    let highest_peak = daily_peaks.iter().copied().max().unwrap_or(0);
    if seats >= 2 && highest_peak * 2 <= seats {
        return Sizing::TooLarge {
            highest_peak,
            seats,
            days,
        };
    }
    Sizing::Fine
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(user: &str, host: &str, start: i64, end: i64) -> SeatUse {
        SeatUse {
            user: user.into(),
            host: host.into(),
            start,
            end,
        }
    }

    /// The same figure by brute force: sample every millisecond-step instant.
    fn brute(uses: &[SeatUse], from: i64, step: i64, buckets: usize) -> Vec<u32> {
        (0..buckets)
            .map(|b| {
                let s = from + step * b as i64;
                (s..s + step)
                    .map(|t| {
                        let mut seats: Vec<(&str, &str)> = uses
                            .iter()
                            .filter(|x| x.start <= t && t < x.end)
                            .map(|x| (x.user.as_str(), x.host.as_str()))
                            .collect();
                        seats.sort();
                        seats.dedup();
                        seats.len() as u32
                    })
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    #[test]
    fn overlapping_uses_of_one_seat_count_once_and_a_handover_is_not_two() {
        let uses = [
            u("anna", "pc1", 0, 10),
            u("anna", "pc1", 5, 20),
            u("bob", "pc2", 20, 30),
        ];
        assert_eq!(peaks(&uses, 0, 10, 3), vec![1, 1, 1]);
        let uses = [u("anna", "pc1", 0, 10), u("anna", "pc2", 5, 20)];
        assert_eq!(peaks(&uses, 0, 10, 2), vec![2, 1]);
    }

    #[test]
    fn peaks_match_a_brute_force_count_on_generated_uses() {
        // A deterministic pseudo-random month of short sessions.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut uses = Vec::new();
        for _ in 0..300 {
            let start = next(900) as i64;
            let len = 1 + next(60) as i64;
            let who = next(12);
            uses.push(u(
                &format!("u{}", who % 6),
                &format!("h{}", who / 6),
                start,
                start + len,
            ));
        }
        for (from, step, buckets) in [(0, 30, 32), (-50, 7, 150), (100, 100, 5)] {
            assert_eq!(
                peaks(&uses, from, step, buckets),
                brute(&uses, from, step, buckets),
                "{from} {step}"
            );
        }
    }

    #[test]
    fn top_users_sum_their_hours_inside_the_period() {
        let h = 3_600_000;
        let uses = [
            u("anna", "a", 0, 3 * h),
            u("bob", "b", 0, h),
            u("anna", "a2", 5 * h, 6 * h),
        ];
        assert_eq!(
            top_users(&uses, 0, 10 * h, 5),
            vec![("anna".into(), 4.0), ("bob".into(), 1.0)]
        );
        assert_eq!(
            top_users(&uses, 2 * h, 10 * h, 1),
            vec![("anna".into(), 2.0)]
        );
    }

    #[test]
    fn sizing_says_too_small_too_large_or_fine() {
        assert!(matches!(
            sizing(5, &[3, 4, 5], 2),
            Sizing::TooSmall { denials: 2, .. }
        ));
        assert!(matches!(
            sizing(5, &[5, 5, 5, 3, 2, 1, 1, 1, 1, 1], 0),
            Sizing::TooSmall {
                days_at_limit: 3,
                ..
            }
        ));
        assert_eq!(
            sizing(10, &[2, 3, 1, 4, 5, 2, 2], 0),
            Sizing::TooLarge {
                highest_peak: 5,
                seats: 10,
                days: 7
            }
        );
        assert_eq!(sizing(10, &[2, 3, 1, 6, 5, 2, 2], 0), Sizing::Fine);
        assert_eq!(sizing(10, &[2, 3], 0), Sizing::TooEarly);
        assert!(
            Sizing::TooLarge {
                highest_peak: 2,
                seats: 10,
                days: 30
            }
            .advice("autocad")
            .contains("at most 2 of its 10")
        );
    }
}

/// One pool's use on one day (UTC), as a LAN server reports it to the portal.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DailyUsage {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub pool_id: String,
    pub products: Vec<String>,
    /// Seats the pool owns.
    pub seats: u32,
    /// The most seats in use at once that day.
    pub peak: u32,
    /// Sessions that started that day.
    pub sessions: u32,
    /// Distinct users who held a seat that day.
    pub users: u32,
    /// Seat-hours used that day.
    pub seat_hours: f64,
    /// Checkouts refused for want of a seat that day.
    pub denials: u32,
}

const DAY_MS: Millis = 86_400_000;

/// The daily figures of one pool over `days` whole days from `day_from` (a midnight,
/// UTC): `uses` are its seats' uses, `denials_at` the instants of its refusals.
pub fn daily_usage(
    pool: &crate::PoolSpec,
    uses: &[SeatUse],
    denials_at: &[Millis],
    day_from: Millis,
    days: usize,
) -> Vec<DailyUsage> {
    let peaks = peaks(uses, day_from, DAY_MS, days);
    (0..days)
        .map(|i| {
            let from = day_from + DAY_MS * i as i64;
            let to = from + DAY_MS;
            let mut users: Vec<&str> = Vec::new();
            let mut sessions = 0u32;
            let mut ms: Millis = 0;
            for u in uses {
                let span = u.end.min(to) - u.start.max(from);
                if span > 0 || (u.start >= from && u.start < to) {
                    users.push(&u.user);
                }
                if span > 0 {
                    ms += span;
                }
                if u.start >= from && u.start < to {
                    sessions += 1;
                }
            }
            users.sort_unstable();
            users.dedup();
            DailyUsage {
                day: crate::from_millis(from).format("%Y-%m-%d").to_string(),
                pool_id: pool.id.clone(),
                products: pool.products.clone(),
                seats: pool.seats,
                peak: peaks[i],
                sessions,
                users: users.len() as u32,
                seat_hours: (ms as f64 / 3_600_000.0 * 100.0).round() / 100.0,
                denials: denials_at.iter().filter(|&&t| t >= from && t < to).count() as u32,
            }
        })
        .collect()
}

#[cfg(test)]
mod daily_tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn daily_figures_split_uses_at_midnight() {
        let day0 = Utc
            .with_ymd_and_hms(2026, 11, 2, 0, 0, 0)
            .unwrap()
            .timestamp_millis();
        let h = 3_600_000;
        let pool = crate::PoolSpec {
            id: "p".into(),
            products: vec!["acad".into()],
            model: crate::LicenseModel::Floating,
            seats: 3,
            start: Utc::now(),
            end: Utc::now(),
            borrow_max_hours: 0,
        };
        let u = |user: &str, host: &str, s: Millis, e: Millis| SeatUse {
            user: user.into(),
            host: host.into(),
            start: day0 + s * h,
            end: day0 + e * h,
        };
        let uses = vec![
            u("anna", "a", 10, 12),
            u("bob", "b", 11, 26),
            u("anna", "a", 33, 34),
        ];
        let days = daily_usage(&pool, &uses, &[day0 + 11 * h + h / 2], day0, 3);
        assert_eq!(days.len(), 3);
        assert_eq!(days[0].day, "2026-11-02");
        assert_eq!(
            (
                days[0].peak,
                days[0].sessions,
                days[0].users,
                days[0].denials
            ),
            (2, 2, 2, 1)
        );
        assert_eq!(days[0].seat_hours, 15.0);
        assert_eq!(
            (
                days[1].peak,
                days[1].sessions,
                days[1].users,
                days[1].denials
            ),
            (1, 1, 2, 0)
        );
        assert_eq!(days[1].seat_hours, 3.0);
        assert_eq!(
            (days[2].peak, days[2].users, days[2].seat_hours),
            (0, 0, 0.0)
        );
        assert_eq!(days[2].day, "2026-11-04");
    }
}
