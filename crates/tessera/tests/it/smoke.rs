//! The shortest path through the real binary: a fresh server, an activation, one seat
//! granted and the next refused.

use crate::common;
use common::*;

#[test]
fn a_fresh_server_activates_and_grants_a_seat() {
    let vendor = Vendor::new();
    let server = server_with_pool(&vendor, pool("p1", &["acad"], 1, 0));
    let api = server.api();
    let (status, lease) = api.checkout("acad", "anna", "pc1", "c1");
    assert_eq!(status, 201, "{lease}");
    let (status, body) = api.checkout("acad", "bob", "pc2", "c2");
    assert_eq!((status, code(&body)), (409, "no_seat_available"));
}
