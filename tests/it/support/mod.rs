//! Helpers shared by the test modules: paths of the repository and its fixtures,
//! directory copies and loopback ports; the rest lives in one module per area.

pub mod alone;
pub mod broken_models;
pub mod client;
pub mod grpc;
pub mod gui;
pub mod http;
pub mod mean_model;
pub mod panics;
pub mod pki;
pub mod server;
pub mod tf;

use std::path::{Path, PathBuf};

/// The repository root (where `cargo test` runs the tests).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/fixtures/models/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures/models").join(name)
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A free loopback port (for a server started as a process).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}
