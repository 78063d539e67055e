//! Remote actors: two nodes in one process, talking over real QUIC
//! connections on loopback with mutual TLS.

mod nodes;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use courier::prelude::*;
use courier::{CallError, NodeError};
use nodes::{addr, node};
use tokio::time::timeout;

/// Far above anything on loopback: a test that needs it has hung.
const BOUND: Duration = Duration::from_secs(20);

/// A chat room: members join with a ref the room calls back.
#[courier::actor]
pub trait ChatRoom {
    /// Adds `member` under `name`; returns how many members there are.
    async fn join(&mut self, name: String, member: MemberRef) -> usize;
    /// Sends `text` to every member; returns how many got it.
    async fn say(&self, from: String, text: String) -> usize;
    /// Sleeps `millis`, for deadline tests.
    async fn nap(&self, millis: u64);
    /// How many calls of `say` have run.
    async fn said(&self) -> u32;
}

/// A chat member, called back by the room.
#[courier::actor]
pub trait Member {
    /// Receives a line.
    async fn hear(&mut self, line: String);
    /// Receives a line, one-way.
    #[tell]
    async fn note(&mut self, line: String);
    /// Every line heard so far.
    async fn heard(&self) -> Vec<String>;
}

#[derive(Default)]
struct Room {
    members: Vec<(String, MemberRef)>,
    said: u32,
}

impl Actor for Room {}

impl ChatRoom for Room {
    async fn join(&mut self, name: String, member: MemberRef) -> usize {
        self.members.push((name, member));
        self.members.len()
    }

    async fn say(&self, from: String, text: String) -> usize {
        let mut reached = 0;
        for (_, member) in &self.members {
            if member.hear(format!("{from}: {text}")).await.is_ok() {
                reached += 1;
            }
        }
        reached
    }

    async fn nap(&self, millis: u64) {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }

    async fn said(&self) -> u32 {
        self.said
    }
}

#[derive(Default)]
struct Listener {
    heard: Vec<String>,
}

impl Actor for Listener {}

impl Member for Listener {
    async fn hear(&mut self, line: String) {
        self.heard.push(line);
    }

    async fn note(&mut self, line: String) {
        self.heard.push(line);
    }

    async fn heard(&self) -> Vec<String> {
        self.heard.clone()
    }
}

fn certs(test: &str) -> PathBuf {
    nodes::certs("remote", test)
}

/// A server node serving a `Room` as "lobby", a client node, the room and
/// the client's ref to it.
async fn lobby(test: &str) -> (System, System, ChatRoomRef, ChatRoomRef) {
    let dir = certs(test);
    let (server, client) = (node(&dir, "server"), node(&dir, "client"));
    let room: ChatRoomRef = server.spawn(Room::default()).into();
    server.serve("lobby", &room).expect("a free name");
    let remote = timeout(BOUND, client.remote(addr(&server), "lobby")).await.expect("in time").expect("found");
    (server, client, room, remote)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_ref_is_called_like_a_local_one_and_refs_travel_both_ways() {
    let (server, client, room, remote) = lobby("chat").await;
    assert_eq!(remote.actor_id(), room.actor_id());
    let ann: MemberRef = client.spawn(Listener::default()).into();
    let bob: MemberRef = client.spawn(Listener::default()).into();
    assert_eq!(remote.join("ann".into(), ann.clone()).await, Ok(1));
    assert_eq!(remote.join("bob".into(), bob.clone()).await, Ok(2));
    // The room calls back both members, on the client node.
    assert_eq!(timeout(BOUND, remote.say("ann".into(), "hello".into())).await.expect("in time"), Ok(2));
    assert_eq!(bob.heard().await, Ok(vec!["ann: hello".to_owned()]));

    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_fail_with_typed_errors() {
    let dir = certs("lookups");
    let (server, client) = (node(&dir, "server"), node(&dir, "client"));
    let room: ChatRoomRef = server.spawn(Room::default()).into();
    server.serve("lobby", &room).expect("a free name");

    let missing = client.remote::<ChatRoomRef>(addr(&server), "nobody").await;
    assert!(matches!(missing, Err(CallError::NotFound { .. })), "{missing:?}");
    let wrong_service = client.remote::<MemberRef>(addr(&server), "lobby").await;
    assert!(matches!(wrong_service, Err(CallError::NotFound { .. })), "{wrong_service:?}");
    // A port where nothing listens.
    let nobody = node(&dir, "nobody");
    let dead = addr(&nobody);
    nobody.shutdown().await;
    let unreachable = timeout(BOUND, client.remote::<ChatRoomRef>(dead, "lobby")).await.expect("in time");
    assert!(matches!(unreachable, Err(CallError::NodeUnreachable { .. })), "{unreachable:?}");
    // Serving is refused for a name in use.
    let other: ChatRoomRef = server.spawn(Room::default()).into();
    assert!(server.serve("lobby", &other).is_err());

    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_tls_does_not_start() {
    let built = System::builder().listen("127.0.0.1:0").build();
    assert!(matches!(built, Err(NodeError::NoTls)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_shutting_down_fails_calls_to_it() {
    let (server, client, _, remote) = lobby("lost").await;
    assert_eq!(remote.said().await, Ok(0));

    server.shutdown().await;
    let started = Instant::now();
    let after = timeout(BOUND, remote.said()).await.expect("in time");
    assert!(matches!(after, Err(CallError::NodeUnreachable { .. })), "{after:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "failed after {:?}", started.elapsed());
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_request_is_not_executed_on_the_other_node() {
    let (server, client, _, remote) = lobby("deadline").await;

    // The room naps; a call queued behind it with a short deadline expires
    // in the mailbox and must not run.
    let napping = tokio::spawn({
        let remote = remote.clone();
        async move { remote.nap(400).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let late = remote.say("ann".into(), "too late".into()).timeout(Duration::from_millis(100)).await;
    assert_eq!(late, Err(CallError::Timeout));
    assert_eq!(napping.await.expect("no panic"), Ok(()));
    assert_eq!(remote.said().await, Ok(0));

    client.shutdown().await;
    server.shutdown().await;
}

static CALLS: AtomicU32 = AtomicU32::new(0);

/// Forwards a call along a path of relays, wherever they run.
#[courier::actor]
pub trait Relay {
    /// Calls the next relay of `path`; counts the hops.
    async fn forward(&self, path: Vec<RelayRef>) -> Result<u32, CallError>;
}

struct Hop;

impl Actor for Hop {}

impl Relay for Hop {
    async fn forward(&self, path: Vec<RelayRef>) -> Result<u32, CallError> {
        CALLS.fetch_add(1, Ordering::Relaxed);
        let Some((next, rest)) = path.split_first() else { return Ok(0) };
        Ok(next.forward(rest.to_vec()).await?? + 1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_across_nodes_is_a_deadlock_not_a_timeout() {
    let dir = certs("deadlock");
    let (one, two) = (node(&dir, "one"), node(&dir, "two"));
    let a: RelayRef = one.spawn(Hop).into();
    let b: RelayRef = two.spawn(Hop).into();
    two.serve("b", &b).expect("a free name");
    let b_from_one: RelayRef = one.remote(addr(&two), "b").await.expect("found");

    // a (node one) -> b (node two) -> a: b gets a's ref inside the message.
    let started = Instant::now();
    let result = timeout(BOUND, a.forward(vec![b_from_one.clone(), a.clone()])).await.expect("in time");
    match result {
        Ok(Err(CallError::Deadlock { chain })) => assert_eq!(chain.0.len(), 3, "{chain}"),
        other => panic!("expected a deadlock, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    // Without a cycle the same path works: a -> b -> (end).
    assert_eq!(a.forward(vec![b_from_one]).await, Ok(Ok(1)));

    one.shutdown().await;
    two.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_traffic() {
    let (server, client, _, remote) = lobby("stats").await;
    for _ in 0..10 {
        remote.said().await.expect("a reply");
    }
    let stats = server.network_stats().expect("a node");
    assert!(stats.frames_received >= 11, "{stats:?}");
    assert_eq!(stats.connections, 1);
    client.shutdown().await;
    server.shutdown().await;
}

/// Two builds of one service trait: the server's and a changed one.
mod server_build {
    /// The trait as the server has it.
    #[courier::actor]
    pub trait Inventory {
        /// Items in stock.
        async fn count(&self) -> u64;
    }
}

mod client_build {
    /// The trait as a changed client has it: `count` takes a shelf.
    #[courier::actor]
    pub trait Inventory {
        /// Items on `shelf`.
        async fn count(&self, shelf: u32) -> u64;
    }
}

struct Stock;

impl Actor for Stock {}

impl server_build::Inventory for Stock {
    async fn count(&self) -> u64 {
        7
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_trait_on_one_side_is_a_clear_error_not_garbage() {
    let dir = certs("versions");
    let (server, client) = (node(&dir, "server"), node(&dir, "client"));
    let stock: server_build::InventoryRef = server.spawn(Stock).into();
    server.serve("stock", &stock).expect("a free name");

    let changed = client.remote::<client_build::InventoryRef>(addr(&server), "stock").await;
    match changed {
        Err(CallError::Protocol { detail }) => assert!(detail.contains("`Inventory`"), "{detail}"),
        other => panic!("expected a protocol error, got {other:?}"),
    }
    let same: server_build::InventoryRef = client.remote(addr(&server), "stock").await.expect("found");
    assert_eq!(same.count().await, Ok(7));

    client.shutdown().await;
    server.shutdown().await;
}

/// An actor that waits for a remote call with its thread blocked, as code
/// bridging to a synchronous API does.
#[courier::actor(local)]
pub trait Blocking {
    /// Calls `room.said()` from inside `block_in_place`.
    async fn said_blocking(&self, room: ChatRoomRef) -> Result<u32, CallError>;
}

struct Blocker;

impl Actor for Blocker {}

impl Blocking for Blocker {
    async fn said_blocking(&self, room: ChatRoomRef) -> Result<u32, CallError> {
        let handle = tokio::runtime::Handle::current();
        tokio::task::block_in_place(|| handle.block_on(async { room.said().await }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_blocking_its_thread_on_a_remote_call_gets_the_reply() {
    let (server, client, _, remote) = lobby("blocking").await;
    // The request leaves although the calling actor's task does not return
    // from its poll until the reply is in.
    let blocker: BlockingRef = client.spawn(Blocker).into();
    let started = Instant::now();
    let said = timeout(BOUND, blocker.said_blocking(remote)).await.expect("in time");
    assert_eq!(said, Ok(Ok(0)));
    assert!(started.elapsed() < Duration::from_secs(4), "not held until the call's timeout");

    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_way_messages_wait_for_room_in_full_send_queues_and_keep_their_order() {
    let dir = certs("full-queues");
    let server = node(&dir, "server");
    // Send queues of a few frames: the tells below keep filling them.
    let tls = Tls::development(&dir, "client").expect("development certificates");
    let client = System::builder().listen("127.0.0.1:0").tls(tls).queue_limit(512).build().expect("a node");
    let ears: MemberRef = server.spawn(Listener::default()).into();
    server.serve("ears", &ears).expect("a free name");
    let remote: MemberRef =
        timeout(BOUND, client.remote(addr(&server), "ears")).await.expect("in time").expect("found");
    for n in 0..2_000 {
        timeout(BOUND, remote.note(format!("line {n}"))).await.expect("in time").expect("queued");
    }
    // From the same sender to the same actor: after every note.
    let heard = timeout(BOUND, remote.heard()).await.expect("in time").expect("answered");
    assert_eq!(heard.len(), 2_000);
    assert!(heard.iter().enumerate().all(|(n, line)| *line == format!("line {n}")), "in order");
    client.shutdown().await;
    server.shutdown().await;
}

/// Sends a member runs of one-way lines with a call between them, all from
/// inside one handler.
#[courier::actor(local)]
pub trait Chatter {
    /// Notes `lines` lines, says one by a call, notes `lines` more, and
    /// returns what the member heard.
    async fn chatter(&self, to: MemberRef, lines: usize) -> Result<Vec<String>, CallError>;
}

struct Talker;

impl Actor for Talker {}

impl Chatter for Talker {
    async fn chatter(&self, to: MemberRef, lines: usize) -> Result<Vec<String>, CallError> {
        for n in 0..lines {
            to.note(format!("note {n}")).await?;
        }
        to.hear("called".into()).await?;
        for n in lines..2 * lines {
            to.note(format!("note {n}")).await?;
        }
        to.heard().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actor_s_one_way_messages_and_calls_to_one_actor_keep_their_order() {
    let dir = certs("actor-order");
    let server = node(&dir, "server");
    // Default send queues, then queues of a few frames that the notes keep
    // filling.
    for (name, limit) in [("roomy", 4 << 20), ("tight", 512)] {
        let ears: MemberRef = server.spawn(Listener::default()).into();
        server.serve(name, &ears).expect("a free name");
        let tls = Tls::development(&dir, name).expect("development certificates");
        let client = System::builder().listen("127.0.0.1:0").tls(tls).queue_limit(limit).build().expect("a node");
        let remote: MemberRef =
            timeout(BOUND, client.remote(addr(&server), name)).await.expect("in time").expect("found");
        let talker: ChatterRef = client.spawn(Talker).into();
        let heard = timeout(BOUND, talker.chatter(remote, 3_000)).await.expect("in time").expect("answered");
        let mut expected: Vec<String> = (0..3_000).map(|n| format!("note {n}")).collect();
        expected.push("called".into());
        expected.extend((3_000..6_000).map(|n| format!("note {n}")));
        assert_eq!(heard.expect("heard"), expected, "{name}: in the order sent");
        client.shutdown().await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_shut_down_frees_its_port_for_a_new_node() {
    let dir = certs("restart");
    let (server, client, _, remote) = lobby("restart").await;
    assert_eq!(remote.said().await, Ok(0));
    let at = addr(&server);

    timeout(BOUND, server.shutdown()).await.expect("in time");
    drop(server);
    // At once: the old node's socket is closed when its shutdown returns.
    let tls = Tls::development(&dir, "server").expect("development certificates");
    let again = System::builder().listen(at).tls(tls).build().expect("a node on the same port");
    let room: ChatRoomRef = again.spawn(Room::default()).into();
    again.serve("lobby", &room).expect("a free name");
    // The client reaches the new node at the old address.
    let fresh = timeout(BOUND, client.remote::<ChatRoomRef>(at, "lobby")).await.expect("in time").expect("found");
    assert_eq!(timeout(BOUND, fresh.said()).await.expect("in time"), Ok(0));

    client.shutdown().await;
    again.shutdown().await;
}
