//! Two nodes as two OS processes: this test binary runs itself again as the
//! server node, then kills it mid-call.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use courier::CallError;
use courier::prelude::*;
use tokio::time::timeout;

/// Set in the environment of the child process.
const CHILD: &str = "COURIER_TEST_SERVER_NODE";

/// A service whose call can be left hanging.
#[courier::actor]
pub trait Sleeper {
    /// Sleeps `millis`, then answers `millis`.
    async fn sleep(&self, millis: u64) -> u64;
}

struct Lazy;

impl Actor for Lazy {}

impl Sleeper for Lazy {
    async fn sleep(&self, millis: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        millis
    }
}

/// Watches a sleeper and passes the notice on.
#[courier::actor(local)]
pub trait Monitor {
    /// Watches `target`.
    async fn watch(&self, target: SleeperRef);
}

struct Watcher(tokio::sync::mpsc::UnboundedSender<Terminated>);

impl Actor for Watcher {
    async fn terminated(&mut self, _: &Context<Self>, notice: Terminated) {
        let _ = self.0.send(notice);
    }
}

impl Monitor for Watcher {
    async fn watch(&self, target: SleeperRef) {
        Context::<Self>::current().watch(&target);
    }
}

/// Kills the child when the test ends, whichever way.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn certs() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("courier-remote-process-{}", std::process::id()))
}

/// The server node's body: only runs in the child process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_node() {
    let Ok(dir) = std::env::var(CHILD) else { return };
    let tls = Tls::development(dir.as_ref(), "server").expect("certificates");
    let system = System::builder().listen("127.0.0.1:0").tls(tls).build().expect("a node");
    let sleeper: SleeperRef = system.spawn(Lazy).into();
    system.serve("sleeper", &sleeper).expect("a free name");
    println!("listening {}", system.local_addr().expect("an address"));
    tokio::time::sleep(Duration::from_secs(600)).await;
}

fn start_server() -> (Server, std::net::SocketAddr) {
    let dir = certs();
    let _ = std::fs::remove_dir_all(&dir);
    // The parent makes the CA first, so the two processes do not race to.
    Tls::development(&dir, "client").expect("certificates");
    let child = Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--exact", "server_node", "--nocapture", "--test-threads", "1"])
        .env(CHILD, &dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the server process");
    let mut server = Server(child);
    let stdout = server.0.stdout.take().expect("piped");
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("the server's output");
        // The test harness may print its own words before ours on the line.
        if let Some((_, addr)) = line.split_once("listening ") {
            return (server, addr.trim().parse().expect("an address"));
        }
    }
    panic!("the server process ended before it listened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_other_process_fails_the_waiting_call_and_tells_watchers_within_two_seconds() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let (mut server, addr) = start_server();
    let tls = Tls::development(&certs(), "client").expect("certificates");
    let client = System::builder().listen("127.0.0.1:0").tls(tls).build().expect("a node");
    let sleeper: SleeperRef =
        timeout(Duration::from_secs(20), client.remote(addr, "sleeper")).await.expect("in time").expect("found");
    assert_eq!(sleeper.sleep(1).await, Ok(1));
    let (notices, mut received) = tokio::sync::mpsc::unbounded_channel();
    let monitor: MonitorRef = client.spawn(Watcher(notices)).into();
    monitor.watch(sleeper.clone()).await.expect("watching");

    let waiting = tokio::spawn({
        let sleeper = sleeper.clone();
        async move { sleeper.sleep(60_000).timeout(Duration::from_secs(60)).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.0.kill().expect("killed");
    let killed = Instant::now();
    let result = timeout(Duration::from_secs(20), waiting).await.expect("in time").expect("no panic");
    let after = killed.elapsed();
    assert!(matches!(result, Err(CallError::NodeUnreachable { .. })), "{result:?}");
    // The node notices within its idle timeout (1 s by default), far from the
    // call's own 60 s timeout; the bound leaves room for a loaded machine.
    assert!(after < Duration::from_secs(5), "the call failed {after:?} after the kill");
    eprintln!("the waiting call failed {after:?} after the kill");
    let notice = timeout(Duration::from_secs(20), received.recv()).await.expect("in time").expect("a notice");
    assert_eq!(notice.id, sleeper.actor_id());
    assert!(matches!(notice.reason, ExitReason::NodeLost { .. }), "{notice:?}");
    let after = killed.elapsed();
    assert!(after < Duration::from_secs(5), "the watcher was told {after:?} after the kill");
    client.shutdown().await;
}
