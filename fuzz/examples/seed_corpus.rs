//! Makes the fuzzing keys (once) and the seed corpus: real keys and tokens made by the
//! code that makes them in production, and a few broken ones. Run from `fuzz/`:
//! `cargo run --example seed_corpus` (it overwrites the seeds it names, nothing else).

use std::path::Path;

use chrono::{Duration, Utc};
use tessera_core::{LicenseModel, PoolSpec};
use tessera_token::{NamedClaims, RegistrationKey, SeatClaims, SeatKind, SigningKey, sign_named};

const MACHINE_ID: &str = "fuzz-machine";

fn key(path: &str) -> SigningKey {
    match std::fs::read_to_string(path) {
        Ok(text) => SigningKey::from_paserk(&text).unwrap(),
        Err(_) => {
            let key = SigningKey::generate();
            std::fs::create_dir_all("keys").unwrap();
            std::fs::write(path, key.to_paserk()).unwrap();
            key
        }
    }
}

fn seed(target: &str, name: &str, mode: Option<u8>, body: &[u8]) {
    let dir = Path::new("corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    let mut bytes = mode.map(|m| vec![m]).unwrap_or_default();
    bytes.extend_from_slice(body);
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn pool(id: &str, products: &[&str], days: i64) -> PoolSpec {
    let now = Utc::now();
    PoolSpec {
        id: id.into(),
        products: products.iter().map(|s| s.to_string()).collect(),
        model: LicenseModel::Floating,
        seats: 5,
        start: now - Duration::days(1),
        end: now + Duration::days(days),
        borrow_max_hours: 24,
    }
}

fn main() {
    let vendor = key("keys/vendor.secret");
    let server = key("keys/server.secret");
    let reg = RegistrationKey::derive(server.verifying_key(), MACHINE_ID);
    let other = RegistrationKey::derive(SigningKey::generate().verifying_key(), "elsewhere");
    let now = Utc::now();
    // Ten years, so the seeds stay valid as the corpus ages.
    let issue = |reg: &RegistrationKey, pools| {
        tessera_token::issue_activation(&vendor, reg, "Fuzz Office", pools, now).unwrap()
    };
    let good = issue(&reg, vec![pool("p1", &["acad"], 3650), pool("p2", &["acad", "revit"], 3650)]);
    let wrong = issue(&other, vec![pool("p1", &["acad"], 3650)]);
    seed("activation_key", "valid", Some(0), good.as_bytes());
    seed("activation_key", "wrong-server", Some(0), wrong.as_bytes());
    seed("activation_key", "truncated", Some(0), &good.as_bytes()[..good.len() / 2]);
    seed("activation_key", "not-paseto", Some(0), b"v4.local.AAAA");
    let claims = tessera_token::verify_activation(vendor.verifying_key(), &good).unwrap().claims;
    let json = serde_json::to_vec(&claims).unwrap();
    seed("activation_key", "claims", Some(1), &json);
    let mut empty = claims.clone();
    empty.pools.clear();
    seed("activation_key", "claims-no-pools", Some(1), &serde_json::to_vec(&empty).unwrap());

    let seat = SeatClaims {
        kind: SeatKind::Lease,
        jti: "l-1".into(),
        sub: "anna".into(),
        host: "pc1".into(),
        client_id: "c1".into(),
        products: vec!["acad".into()],
        pool: "p1".into(),
        site_key: None,
        iat: now,
        exp: now + Duration::days(3650),
    };
    let web = tessera_token::sign_seat(&vendor, &seat, None).unwrap();
    let lan = tessera_token::sign_seat(&server, &seat, Some(&good)).unwrap();
    let seat_json = serde_json::to_vec(&seat).unwrap();
    seed("seat_token", "web", Some(0), web.as_bytes());
    seed("seat_token", "lan", Some(0), lan.as_bytes());
    seed("seat_token", "claims-web", Some(1), &seat_json);
    seed("seat_token", "claims-lan", Some(2), &seat_json);
    let mut with_footer = seat_json.clone();
    with_footer.push(0xff);
    with_footer.extend_from_slice(serde_json::json!({ "activation": good }).to_string().as_bytes());
    seed("seat_token", "claims-footer", Some(3), &with_footer);
    seed("seat_token", "broken-footer", Some(3), b"{}\xff{\"activation\":\"v4.public.x\"}");

    let text = reg.to_string();
    seed("registration_key", "valid", None, text.as_bytes());
    seed("registration_key", "typed", None, format!("  {} ", text.to_lowercase().replace('-', " ")).as_bytes());
    let mut typo = text.clone().into_bytes();
    let last = typo.len() - 1;
    typo[last] = if typo[last] == b'A' { b'B' } else { b'A' };
    seed("registration_key", "typo", None, &typo);
    seed("registration_key", "prefix-only", None, b"TSR1-");

    seed(
        "policy",
        "groups",
        None,
        b"[user_groups]\nengineers = [\"anna\", \"bob\"]\n\n[host_groups]\nlab = [\"lab-1\"]\n\n[[rule]]\nproduct = \"acad\"\ninclude = [\"group:engineers\", \"host_group:lab\"]\nexclude = [\"user:bob\"]\n",
    );
    seed(
        "policy",
        "reserve-max",
        None,
        b"[[rule]]\npool = \"p1\"\nreserve = [{ subject = \"user:anna\", seats = 1 }]\nmax = [{ subject = \"host:pc2\", seats = 1 }]\nborrow_low_water = 1\n",
    );
    seed("policy", "unknown-subject", None, b"[[rule]]\npool = \"p\"\n\nexclude = [\"crowd:everyone\"]\n");
    seed("policy", "unclosed", None, b"[[rule]]\npool = \"p\"\nexclude = [\"user:x\"\n");
    seed("policy", "both", None, b"[[rule]]\npool = \"p\"\nproduct = \"acad\"\n");

    seed(
        "request_body",
        "checkout",
        Some(0),
        br#"{"product":"acad","user":"anna","host":"pc1","client_id":"c1","version":"2.1","wait_s":5}"#,
    );
    seed(
        "request_body",
        "borrow",
        Some(1),
        br#"{"product":"acad","user":"anna","host":"pc1","client_id":"c1","hours":24}"#,
    );
    seed("request_body", "unknown-field", Some(0), br#"{"product":"acad","user":"a","host":"h","client_id":"c","x":1}"#);
    seed("request_body", "control-char", Some(0), b"{\"product\":\"a\\u0000\",\"user\":\"a\",\"host\":\"h\",\"client_id\":\"c\"}");
    seed("request_body", "not-json-type", Some(0x80), br#"{"product":"acad"}"#);
    seed("request_body", "broken", Some(1), br#"{"product": "#);

    seed(
        "portal_forms",
        "subscription-lan",
        Some(0),
        format!("option=all-3m&start=2026-06-01&users=5&registration_key={}", text.replace(' ', "+")).as_bytes(),
    );
    seed("portal_forms", "subscription-web", Some(0), b"option=all-1y&start=&users=2&web=on");
    seed(
        "portal_forms",
        "company",
        Some(1),
        b"name=Kowalski+%26+Partners&address=ul.+D%C5%82uga+1%0D%0A00-001+Warszawa&tax_id=PL1234567890&billing_email=billing%40kowalski.example&next=%2Fcheckout",
    );
    seed("portal_forms", "email", Some(2), b"anna@office.example");
    seed("portal_forms", "slug", Some(3), "Kowalski & Partners Sp. z o.o.".as_bytes());
    seed("portal_forms", "next", Some(4), b"/checkout?step=2");
    seed("portal_forms", "next-offsite", Some(4), b"//evil.example/");

    // Credentials as an `Authorization` header: a site key, a person's sign-in token
    // signed by the vendor key, and near misses.
    let key = tessera_token::generate_site_key();
    seed("credential", "site-key", None, format!("Bearer {key}").as_bytes());
    seed("credential", "site-key-lowercase-scheme", None, format!("bearer  {key} ").as_bytes());
    seed("credential", "not-a-key", None, b"Bearer tsk_");
    let named = sign_named(
        &vendor,
        &NamedClaims {
            kind: "named".into(),
            jti: "fuzz-session".into(),
            sub: "anna@office.example".into(),
            device: "fuzz-device".into(),
            products: vec!["share".into()],
            iat: Utc::now(),
            exp: Utc::now() + Duration::days(3650),
        },
    )
    .unwrap();
    seed("credential", "sign-in", None, format!("Bearer {named}").as_bytes());
}
