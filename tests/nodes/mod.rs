//! Nodes for tests that start several on loopback, shared by the remote
//! test files (`mod nodes;`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use courier::prelude::*;

/// A fresh folder of development certificates for one test of `file`.
pub fn certs(file: &str, test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("courier-{file}-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A node on a free loopback port, with the identity `name` of the CA in
/// `dir`.
pub fn node(dir: &Path, name: &str) -> System {
    let tls = Tls::development(dir, name).expect("development certificates");
    System::builder().listen("127.0.0.1:0").tls(tls).build().expect("a node")
}

/// Where `system` listens.
pub fn addr(system: &System) -> SocketAddr {
    system.local_addr().expect("a listening node")
}
