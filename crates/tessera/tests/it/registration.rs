//! The registration key ties a server to its key and its machine: stable where it is,
//! different on a copy of the data folder on another machine, which then refuses the
//! activation made for the original.

use crate::common;

use common::*;

#[test]
fn registration_key_is_stable_across_runs_on_the_same_folder_and_machine() {
    let vendor = Vendor::new();
    let mut server = Server::start(&vendor, ServerOpts::default());
    let first = server.registration_key();
    assert!(first.starts_with("TSR1-"), "{first}");
    assert_eq!(server.registration_key(), first);
    let (_, info) = server.api().get("/api/v1/server", None);
    assert_eq!(info["registration_key"], first.as_str());

    server.restart();
    assert_eq!(server.registration_key(), first);
    let (_, after) = server.api().get("/api/v1/server", None);
    assert_eq!(after["registration_key"], first.as_str());
    assert_eq!(
        after["public_key"], info["public_key"],
        "the key pair is kept"
    );
}

#[test]
fn a_copied_data_folder_on_another_machine_has_a_new_registration_key_and_refuses_the_old_activation()
 {
    let vendor = Vendor::new();
    let mut original = server_with_pool(&vendor, pool("p1", &["acad"], 2, 0));
    let old_reg = original.registration_key();
    let old_key = vendor.activation(&old_reg, vec![pool("p2", &["revit"], 1, 0)]);
    original.activate(&old_key);
    let (status, lease) = original.api().checkout("acad", "anna", "pc1", "c1");
    assert_eq!(status, 201, "{lease}");
    assert_eq!(
        original.terminate_status().code(),
        Some(0),
        "graceful stop before the copy"
    );

    let copy_root = tempfile::tempdir().unwrap();
    let copy = copy_root.path().join("server");
    copy_dir(&original.data, &copy);

    // The same folder on the same machine still knows itself …
    original.restart();
    assert_eq!(original.registration_key(), old_reg);
    let (status, _) = original.api().checkout("revit", "bob", "pc2", "c2");
    assert_eq!(status, 201, "the original keeps its pools");

    // … the copy on another machine does not.
    let elsewhere = ServerOpts {
        machine_id: "test-machine-2".into(),
        ..Default::default()
    };
    let moved = Server::start_in(&copy, &vendor.public_path(), elsewhere, None);
    let new_reg = moved.registration_key();
    assert_ne!(new_reg, old_reg);
    let api = moved.api();
    let (_, info) = api.get("/api/v1/server", None);
    assert_eq!(info["registration_key"], new_reg.as_str());
    assert_eq!(
        info["products"],
        serde_json::json!([]),
        "no pool of the old activation is in service on the copy"
    );
    for product in ["acad", "revit"] {
        let (status, body) = api.checkout(product, "carl", "pc3", "c3");
        assert_eq!(
            (status, code(&body)),
            (404, "unknown_product"),
            "{product}: {body}"
        );
    }
    // The lease the original granted does not live on in the copy.
    let (status, body) = api.heartbeat(&lease);
    assert_ne!(status, 200, "{body}");

    // Importing the old activation again is refused, by the CLI …
    let (out, stdout, stderr) = moved.try_activate(&old_key);
    assert!(
        !out.status.success(),
        "the copy accepted the old activation:\n{stdout}"
    );
    assert!(
        stderr.contains("another server") && stderr.contains(&new_reg),
        "{stderr}"
    );
    // … and by the admin API.
    let admin = moved.admin_token();
    let (status, body) = api.post_raw(
        "/api/v1/admin/activations",
        Some(&admin),
        "text/plain",
        old_key.as_bytes(),
    );
    assert_eq!((status, code(&body)), (409, "wrong_server"), "{body}");
    assert!(api.pools().is_empty());

    // A key issued for the new registration key works there.
    moved.activate(&vendor.issue(&new_reg, "acad", 1, &[]));
    let (status, body) = api.checkout("acad", "carl", "pc3", "c3");
    assert_eq!(status, 201, "{body}");
}
