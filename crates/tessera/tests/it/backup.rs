//! Backups of a running server, restores on the same machine, one server per folder,
//! and the packaged sample settings.

use crate::common;

use common::*;

#[test]
fn a_backup_of_a_running_server_restores_activations_leases_and_borrows() {
    let vendor = Vendor::new();
    let mut server = server_with_pool(&vendor, pool("p", &["acad"], 3, 24));
    let api = server.api();
    let (status, lease) = api.checkout("acad", "anna", "pc1", "c1");
    assert_eq!(status, 201);
    let (status, borrow) = api.borrow("acad", "bob", "laptop", "b1", 8);
    assert_eq!(status, 201, "{borrow}");
    let registration = server.registration_key();

    let backups = tempfile::tempdir().unwrap();
    let dest = backups.path().join("monday");
    let (out, stdout, stderr) = server.cli("backup", &[dest.to_str().unwrap()]);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("backup written"), "{stdout}");
    // A later lease is not in the backup.
    assert_eq!(api.checkout("acad", "carol", "pc3", "c3").0, 201);

    // A backup never overwrites an earlier one.
    let (out, _, stderr) = server.cli("backup", &[dest.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr.contains("already exists"), "{stderr}");

    // Restoring while the server runs is refused.
    let (out, _, stderr) = server.cli("restore", &[dest.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr.contains("stop it before restoring"), "{stderr}");

    // The disk dies: the folder is gone, the backup comes back on the same machine.
    server.terminate();
    std::fs::remove_dir_all(&server.data).unwrap();
    let (out, stdout, stderr) = server.cli("restore", &[dest.to_str().unwrap()]);
    assert!(out.status.success(), "{stdout}{stderr}");
    server.restart();
    assert_eq!(
        server.registration_key(),
        registration,
        "same key, same machine"
    );
    let pool = server.api().pool("p");
    assert_eq!(
        (pool["in_use"].as_u64(), pool["borrowed"].as_u64()),
        (Some(1), Some(1)),
        "{pool}"
    );
    assert_eq!(
        server.api().heartbeat(&lease).0,
        200,
        "anna's lease carries on"
    );
    let id = borrow["borrow_id"].as_str().unwrap();
    assert_eq!(
        server
            .api()
            .delete(&format!("/api/v1/borrows/{id}"), borrow["token"].as_str())
            .0,
        204
    );
}

#[test]
fn a_second_server_on_the_same_data_folder_is_refused() {
    let vendor = Vendor::new();
    let server = Server::start(&vendor, ServerOpts::default());
    let out = tessera()
        .args([
            "server",
            "--data",
            server.data_arg(),
            "--listen",
            "127.0.0.1:0",
        ])
        .args([
            "--vendor-public-key",
            vendor.public_path().to_str().unwrap(),
        ])
        .env("TESSERA_MACHINE_ID", &server.opts.machine_id)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already running"));
    assert_eq!(
        server.api().get("/api/v1/server", None).0,
        200,
        "the first keeps serving"
    );
}

#[test]
fn the_packaged_sample_settings_file_is_valid() {
    let vendor = Vendor::new();
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../packaging/tessera.toml"
    ))
    .unwrap();
    // A server refuses to start on a settings file it cannot read, so starting is the check.
    let server = Server::start_with_file(&vendor, "tessera.toml", &sample);
    let (_, info) = server.api().get("/api/v1/server", None);
    assert_eq!(info["heartbeat_interval_s"], 30);
    let out = tessera()
        .args(["server", "registration-key", "--data", server.data_arg()])
        .env("TESSERA_MACHINE_ID", "test-machine-1")
        .output()
        .unwrap();
    assert!(out.status.success());
}
