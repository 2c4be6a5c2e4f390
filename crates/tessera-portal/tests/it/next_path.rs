//! The page a form returns to (`next`) stays on the portal and makes a valid Location:
//! regressions found by fuzzing (fuzz/corpus/portal_forms/regression-next-*). A NUL made
//! the redirect panic (a 500); a tab, which browsers drop, let `/<TAB>/elsewhere` leave
//! for another site.

use tessera_portal::pages::{local_path, see_other};

#[test]
fn next_with_a_control_character_falls_back_to_the_default() {
    for next in [
        "/checkout?step=2\0option=all",
        "/\t/evil.example/",
        "/\n/evil.example",
        "/a\r\nSet-Cookie: x=1",
    ] {
        assert_eq!(local_path(Some(next), "/checkout"), "/checkout", "{next:?}");
    }
    // What stays allowed: a path of the portal, with a query, in any script.
    assert_eq!(
        local_path(Some("/account/orders?x=1"), "/"),
        "/account/orders?x=1"
    );
    assert_eq!(local_path(Some("/w/łódź/"), "/"), "/w/łódź/");
    for offsite in [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
        "evil",
    ] {
        assert_eq!(local_path(Some(offsite), "/"), "/", "{offsite:?}");
    }
}

#[test]
fn every_accepted_next_makes_a_redirect() {
    for next in ["/checkout?step=2\0x", "/\t/evil", "/ok", "/w/łódź/"] {
        let to = local_path(Some(next), "/checkout");
        let response = see_other(&to);
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()["location"].as_bytes(), to.as_bytes());
    }
}
