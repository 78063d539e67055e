//! A node's id is bound to the certificate its first connection presented:
//! another member of the cluster, with a certificate of the same CA, cannot
//! take over the id (and with it the traffic) of a node it is not.

// The harness of `remote_bad_input.rs`, of which this file uses a part.
#[allow(dead_code, unused_imports)]
mod attack;

use attack::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_claiming_the_id_of_a_node_with_another_certificate_is_refused() {
    let node = Victim::start("impostor");
    let tls = Tls::development(&node.dir, "client").expect("development certificates");
    let client = System::builder().listen("127.0.0.1:0").tls(tls).build().expect("a node");
    let remote: CounterRef =
        timeout(BOUND, client.remote(node.addr(), SERVED)).await.expect("a lookup in time").expect("found");
    assert_eq!(timeout(BOUND, remote.add(2)).await.expect("a reply in time"), Ok(2));
    let before = node.stats();

    // Past TLS with a certificate of its own, it says hello as the client
    // node, from the client's address.
    let (endpoint, config) = raw_endpoint(&node.dir);
    let connecting = endpoint.connect_with(config, node.addr(), SERVER_NAME).expect("a connection attempt");
    let connection = timeout(BOUND, connecting).await.expect("TLS in time").expect("past TLS");
    let (mut send, _recv) = connection.open_bi().await.expect("a hello stream");
    let claimed = Hello {
        node: client.id(),
        listen: client.local_addr().expect("a listening node").to_string(),
        served: Vec::new(),
    };
    hello::send(&mut send, &claimed).await.expect("the hello sent");
    let _ = send.finish();
    let closed = timeout(BOUND, connection.closed()).await.expect("the node closes the connection");
    assert!(
        matches!(&closed, quinn::ConnectionError::ApplicationClosed(close) if close.reason.as_ref() == b"another node's id"),
        "{closed:?}"
    );
    let after = node.wait_for("the refusal", |stats| stats.refused_connections > before.refused_connections).await;
    assert_eq!(changes(before, after), [("refused_connections", 1)]);

    // The client's own connection still carries its calls.
    assert_eq!(timeout(BOUND, remote.add(3)).await.expect("a reply in time"), Ok(5));
    node.still_serves().await;
    client.shutdown().await;
    node.stop().await;
}
