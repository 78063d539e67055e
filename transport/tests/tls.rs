//! Mutual TLS over real QUIC connections on loopback: nodes of one cluster
//! CA connect; a node with a certificate from another CA is refused, as a
//! client and as a server.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use courier_transport::tls::{SERVER_NAME, Tls, TlsError};
use tokio::time::timeout;

/// Far above a loopback handshake.
const BOUND: Duration = Duration::from_secs(10);

/// A fresh folder for one test's certificates.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("courier-tls-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn server(tls: &Tls) -> quinn::Endpoint {
    let config = tls.server_config().expect("a server config");
    quinn::Endpoint::server(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).expect("an endpoint")
}

fn client(tls: &Tls) -> quinn::Endpoint {
    let mut endpoint = quinn::Endpoint::client(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).expect("an endpoint");
    endpoint.set_default_client_config(tls.client_config().expect("a client config"));
    endpoint
}

/// Connects `from` to `to` and sends a few bytes one way; `Ok` with what the
/// server read, or the first error on either side.
async fn exchange(from: &Tls, to: &Tls) -> Result<Vec<u8>, String> {
    let (server, client) = (server(to), client(from));
    let address = server.local_addr().expect("bound");
    let accepting = tokio::spawn(async move {
        let incoming = server.accept().await.ok_or("no incoming connection")?;
        let connection = incoming.await.map_err(|error| format!("server: {error}"))?;
        let mut stream = connection.accept_uni().await.map_err(|error| format!("server stream: {error}"))?;
        let read = stream.read_to_end(1024).await.map_err(|error| format!("server read: {error}"))?;
        Ok::<_, String>(read)
    });
    let connection = client
        .connect(address, SERVER_NAME)
        .map_err(|error| format!("client: {error}"))?
        .await
        .map_err(|error| format!("client: {error}"))?;
    let mut stream = connection.open_uni().await.map_err(|error| format!("client stream: {error}"))?;
    stream.write_all(b"hello").await.map_err(|error| format!("client write: {error}"))?;
    stream.finish().map_err(|error| format!("client finish: {error}"))?;
    let read = accepting.await.map_err(|error| error.to_string())??;
    connection.close(0u32.into(), b"done");
    Ok(read)
}

#[tokio::test]
async fn nodes_of_one_cluster_connect() {
    let dir = folder("cluster");
    let (one, two) = (Tls::development(&dir, "one").expect("node one"), Tls::development(&dir, "two").expect("two"));
    let read = timeout(BOUND, exchange(&two, &one)).await.expect("no hang");
    assert_eq!(read, Ok(b"hello".to_vec()));
    // The folder is reused as it is: the same CA, the same node files.
    let again = Tls::development(&dir, "one").expect("node one again");
    assert_eq!(timeout(BOUND, exchange(&again, &two)).await.expect("no hang"), Ok(b"hello".to_vec()));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_client_from_another_ca_is_refused() {
    let (ours, theirs) = (folder("ours-client"), folder("theirs-client"));
    let node = Tls::development(&ours, "node").expect("our node");
    let stranger = Tls::development(&theirs, "stranger").expect("their node");
    let result = timeout(BOUND, exchange(&stranger, &node)).await.expect("refused, not hung");
    assert!(result.is_err(), "a foreign client got through: {result:?}");
    let _ = (std::fs::remove_dir_all(ours), std::fs::remove_dir_all(theirs));
}

#[tokio::test]
async fn a_server_from_another_ca_is_refused() {
    let (ours, theirs) = (folder("ours-server"), folder("theirs-server"));
    let node = Tls::development(&ours, "node").expect("our node");
    let impostor = Tls::development(&theirs, "impostor").expect("their node");
    let result = timeout(BOUND, exchange(&node, &impostor)).await.expect("refused, not hung");
    let error = result.expect_err("a foreign server was trusted");
    assert!(error.starts_with("client"), "the client refuses it: {error}");
    let _ = (std::fs::remove_dir_all(ours), std::fs::remove_dir_all(theirs));
}

#[test]
fn missing_or_garbage_files_are_typed_errors() {
    let dir = folder("files");
    std::fs::create_dir_all(&dir).expect("a folder");
    let missing = dir.join("missing.pem");
    assert!(matches!(
        Tls::from_pem_files(&missing, &missing, &missing),
        Err(TlsError::Pem { .. } | TlsError::Io { .. })
    ));
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").expect("written");
    let error = Tls::from_pem_files(&garbage, &garbage, &garbage).expect_err("garbage refused");
    assert!(error.to_string().contains("garbage.pem"), "{error}");
    let _ = std::fs::remove_dir_all(dir);
}
