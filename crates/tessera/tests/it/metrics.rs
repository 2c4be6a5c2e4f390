//! `GET /metrics` on a real `tessera server` and `tessera portal`: behind the admin token
//! or the metrics token, and after a known sequence of checkouts, refusals, heartbeats
//! and a check-in, exactly those counts, read with a Prometheus text parser.

use crate::common;

use common::*;

/// The value of the sample `name` with every label of `labels`.
pub(crate) fn sample(
    scrape: &prometheus_parse::Scrape,
    name: &str,
    labels: &[(&str, &str)],
) -> f64 {
    let found: Vec<f64> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
        .collect();
    let near: Vec<String> = scrape
        .samples
        .iter()
        .filter(|s| s.metric.starts_with(name))
        .map(|s| format!("{} {:?}", s.metric, s.labels))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one sample of {name} {labels:?}: {found:?} among {near:?}"
    );
    found[0]
}

pub(crate) fn parse(text: &str) -> prometheus_parse::Scrape {
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

#[test]
fn a_scrape_after_known_calls_shows_exactly_those_counts() {
    let vendor = Vendor::new();
    let server = server_with(
        &vendor,
        ServerOpts::with_args(&["--metrics-token", "scrape-me"]),
        vec![pool("p", &["acad"], 2, 0)],
    );
    let api = server.api();
    // Without a token, or with a wrong one: nothing.
    assert_eq!(api.get("/metrics", None).0, 401);
    assert_eq!(api.get("/metrics", Some("wrong")).0, 401);

    let (s1, anna) = api.checkout("acad", "anna", "pc1", "c1");
    let (s2, _bob) = api.checkout("acad", "bob", "pc2", "c2");
    let (s3, _) = api.checkout("acad", "carl", "pc3", "c3");
    let (s4, _) = api.checkout("nothing", "dora", "pc4", "c4");
    assert_eq!((s1, s2, s3, s4), (201, 201, 409, 404));
    for _ in 0..3 {
        assert_eq!(api.heartbeat(&anna).0, 200);
    }
    assert_eq!(api.checkin(&anna).0, 204);
    let gone = api.heartbeat(&anna);
    assert_eq!(gone.0, 404);

    for token in [server.admin_token(), "scrape-me".to_owned()] {
        let r = api.raw(
            "GET",
            "/metrics",
            &[("authorization", &format!("Bearer {token}"))],
            b"",
        );
        assert_eq!(r.status, 200);
        let m = parse(&r.text);
        let lease = |outcome| {
            sample(
                &m,
                "tessera_seat_requests_total",
                &[("kind", "lease"), ("outcome", outcome)],
            )
        };
        assert_eq!(lease("granted"), 2.0);
        assert_eq!(lease("no_seat_available"), 1.0);
        assert_eq!(lease("unknown_product"), 1.0);
        assert_eq!(
            sample(&m, "tessera_heartbeats_total", &[("outcome", "ok")]),
            3.0
        );
        assert_eq!(
            sample(
                &m,
                "tessera_heartbeats_total",
                &[("outcome", "lease_not_found")]
            ),
            1.0
        );
        let pool = [("realm", "lan"), ("pool", "p")];
        assert_eq!(sample(&m, "tessera_seats_owned", &pool), 2.0);
        assert_eq!(sample(&m, "tessera_seats_in_use", &pool), 1.0);
        assert_eq!(sample(&m, "tessera_seats_borrowed", &pool), 0.0);
        assert_eq!(
            sample(
                &m,
                "tessera_http_requests_total",
                &[
                    ("method", "POST"),
                    ("route", "/api/v1/leases"),
                    ("status", "201")
                ]
            ),
            2.0
        );
        assert!(
            m.samples
                .iter()
                .any(|s| s.metric == "tessera_seat_write_duration_seconds_count"
                    || s.metric.starts_with("tessera_seat_write_duration_seconds")),
            "the write latency is there"
        );
    }
}

#[test]
fn the_portals_metrics_need_its_metrics_token() {
    let data = tempfile::tempdir().unwrap();
    let portal = PortalProcess::start(data.path(), None, &["--metrics-token", "portal-scrape"]);
    let api = Api::new(&portal.url);
    assert_eq!(api.get("/metrics", None).0, 401);
    let r = api.raw(
        "GET",
        "/metrics",
        &[("authorization", "Bearer portal-scrape")],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        sample(&parse(&r.text), "tessera_leases_expired_total", &[]),
        0.0
    );
    // A stranger's checkout on the web license server is counted by its route, never by
    // the organization's name.
    assert_eq!(api.get("/w/somebody/api/v1/server", None).0, 401);
    let r = api.raw(
        "GET",
        "/metrics",
        &[("authorization", "Bearer portal-scrape")],
        b"",
    );
    let m = parse(&r.text);
    assert_eq!(
        sample(
            &m,
            "tessera_http_requests_total",
            &[
                ("method", "GET"),
                ("route", "/w/:org/api/v1/server"),
                ("status", "401")
            ]
        ),
        1.0
    );
    // A portal started without a metrics token shows its figures to nobody.
    let other = tempfile::tempdir().unwrap();
    let closed = PortalProcess::start(other.path(), None, &[]);
    let r = Api::new(&closed.url).raw(
        "GET",
        "/metrics",
        &[("authorization", "Bearer portal-scrape")],
        b"",
    );
    assert_eq!(r.status, 401);
}
