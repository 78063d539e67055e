//! The remote benchmark: messages between two processes on loopback,
//! courier side by side with raw quinn using courier's framing and TLS (the
//! baseline) and with ractor_cluster, all measured in one run.
//!
//! `cargo bench --bench remote` runs every workload and prints a markdown
//! table (median and range per figure, ratios to the baseline). Options, as
//! environment variables or arguments after `--`:
//!
//! - `COURIER_BENCH_SCALE` / `--scale X`: multiply every count by `X` (e.g.
//!   `0.01` for a smoke run);
//! - `COURIER_BENCH_RUNS` / `--runs N`: repetitions per figure (default 3);
//! - `COURIER_BENCH_ONLY` / `--only a,b`: only these contenders (the
//!   baseline, `raw`, always runs);
//! - `COURIER_BENCH_WORKLOADS` / `--workloads oneway,echo,rtt,concurrent`:
//!   only these workloads.
//!
//! Every measurement has its own server: this binary re-executes itself as
//! `--serve CONTENDER WORKLOAD TLS_DIR`, the server prints its address on the
//! first line of its stdout, this process connects, measures, and kills the
//! server. The contenders take turns workload by workload, except in `rtt`:
//! there all of them are connected at once and take turns in blocks of
//! round trips ([`RTT_BLOCKS`]). The workloads are described in
//! `remote/common.rs`: 5M one-way messages; 1M echoed messages with 1,000
//! in flight (both directions counted); 100k sequential round trips (p50,
//! p99); 200k round trips from 16 concurrent requesters.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[path = "remote/common.rs"]
mod common;
#[path = "harness/mod.rs"]
mod harness;
// The runtime helpers and the CPU clock of the local benchmark.
#[allow(dead_code)]
#[path = "local/common.rs"]
mod local_common;
#[path = "remote/on_courier.rs"]
mod on_courier;
#[path = "remote/on_ractor_cluster.rs"]
mod on_ractor_cluster;
#[path = "remote/raw.rs"]
mod raw;

use common::{CpuClock, Peer, REQUESTERS, RoundTrips, Workload};
use harness::{Figure, Settings, load_average, ratio};

const ONEWAY: f64 = 5_000_000.0;
const ECHO: f64 = 1_000_000.0;
const RTT: f64 = 100_000.0;
const CONCURRENT: f64 = 200_000.0;

/// The blocks the `rtt` workload's round trips are split into, each
/// contender timing one block in turn (see `common::RoundTrips`).
const RTT_BLOCKS: usize = 20;

/// A contender: its server (run in the child process) and one client
/// function per workload (run here, timing).
struct Contender {
    name: &'static str,
    /// Serves one workload in a child process until killed; prints its
    /// address first (see `common::announce`).
    serve: fn(Workload, &Path),
    /// `n` one-way messages: the time from the first send to the receiver's
    /// count of all of them.
    oneway: fn(&Peer, u64) -> Duration,
    /// `n` messages echoed: the time until the last echo came back.
    echo: fn(&Peer, u64) -> Duration,
    /// A client for sequential round trips, connected and warmed up with
    /// the given number of them.
    rtt: fn(&Peer, u64) -> Box<dyn RoundTrips>,
    /// `requesters` tasks making `each` round trips: the time until all are
    /// done.
    concurrent: fn(&Peer, usize, u64) -> Duration,
}

const CONTENDERS: [Contender; 3] = [
    Contender {
        name: "raw",
        serve: raw::serve,
        oneway: raw::oneway,
        echo: raw::echo,
        rtt: raw::rtt,
        concurrent: raw::concurrent,
    },
    Contender {
        name: "courier",
        serve: on_courier::serve,
        oneway: on_courier::oneway,
        echo: on_courier::echo,
        rtt: on_courier::rtt,
        concurrent: on_courier::concurrent,
    },
    Contender {
        name: "ractor_cluster",
        serve: on_ractor_cluster::serve,
        oneway: on_ractor_cluster::oneway,
        echo: on_ractor_cluster::echo,
        rtt: on_ractor_cluster::rtt,
        concurrent: on_ractor_cluster::concurrent,
    },
];

#[derive(Default)]
struct Row {
    oneway: Figure,
    echo: Figure,
    p50: Figure,
    p99: Figure,
    concurrent: Figure,
}

fn rate(v: f64) -> String {
    if v >= 1e6 { format!("{:.2}M", v / 1e6) } else { format!("{:.0}k", v / 1e3) }
}
fn micros(v: f64) -> String {
    format!("{v:.1}")
}

/// A server in a child process, killed when dropped. A watchdog thread
/// ends the bench if the server exits while it is being measured (a
/// client waiting for an answer would otherwise wait forever).
struct Server {
    peer: Peer,
    child: Arc<Mutex<Child>>,
    done: Arc<AtomicBool>,
    watchdog: Option<JoinHandle<()>>,
}

impl Server {
    fn start(contender: &str, workload: Workload, tls_dir: &Path) -> Server {
        let exe = std::env::current_exe().expect("current exe");
        let mut child = Command::new(exe)
            .args(["--serve", contender, workload.name()])
            .arg(tls_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start a server process");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("the server's stdout");
        std::io::BufReader::new(stdout).read_line(&mut line).expect("read the server's address");
        let Some(addr) = common::parse_announcement(&line) else {
            let _ = child.kill();
            panic!("server {contender} {}: no address on its first line: {line:?}", workload.name());
        };
        let peer = Peer { addr, tls_dir: tls_dir.to_owned(), pid: child.id() };
        let (child, done) = (Arc::new(Mutex::new(child)), Arc::new(AtomicBool::new(false)));
        let watchdog = std::thread::spawn({
            let (child, done, what) = (child.clone(), done.clone(), format!("{contender} {}", workload.name()));
            move || {
                while !done.load(Ordering::Acquire) {
                    let status = child.lock().expect("the child's lock").try_wait().expect("poll the server process");
                    if let Some(status) = status {
                        eprintln!("the server for {what} exited during the measurement: {status}");
                        std::process::exit(1);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        });
        Server { peer, child, done, watchdog: Some(watchdog) }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
        if let Some(watchdog) = self.watchdog.take() {
            let _ = watchdog.join();
        }
        let mut child = self.child.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Killing a server that already exited is not an error worth a word.
        let _ = child.kill();
        if let Err(error) = child.wait() {
            eprintln!("could not reap server process {}: {error}", self.peer.pid);
        }
    }
}

/// The `rtt` workload: `n` sequential round trips per contender, all
/// contenders connected at once and timing [`RTT_BLOCKS`] blocks in turn
/// (who goes first moves on by one each block), each turn after a few
/// untimed round trips. Returns each contender's times,
/// sorted.
fn round_trips(contenders: &[&Contender], n: usize, tls_dir: &Path) -> Vec<Vec<Duration>> {
    let servers: Vec<Server> = contenders.iter().map(|c| Server::start(c.name, Workload::Rtt, tls_dir)).collect();
    let warmup = common::warmup(n as u64);
    let mut clients: Vec<Box<dyn RoundTrips>> =
        contenders.iter().zip(&servers).map(|(c, server)| (c.rtt)(&server.peer, warmup)).collect();
    let mut times = vec![Vec::with_capacity(n); contenders.len()];
    let blocks = RTT_BLOCKS.min(n).max(1);
    for block in 0..blocks {
        let seqs = warmup + (block * n / blocks) as u64..warmup + ((block + 1) * n / blocks) as u64;
        for turn in 0..contenders.len() {
            let c = (block + turn) % contenders.len();
            // The client's processes sat idle during the other turns: a
            // few untimed round trips first, as the whole run had its
            // warm-up.
            clients[c].time(0..(seqs.end - seqs.start).div_ceil(50));
            times[c].extend(clients[c].time(seqs.clone()));
        }
    }
    for client in clients {
        client.close();
    }
    drop(servers);
    for (c, times) in contenders.iter().zip(&mut times) {
        assert_eq!(times.len(), n, "{}: one time per round trip", c.name);
        times.sort_unstable();
    }
    times
}

/// The child side: `--serve CONTENDER WORKLOAD TLS_DIR`.
fn serve(args: &[String]) {
    let [name, workload, tls_dir] = args else { panic!("usage: --serve CONTENDER WORKLOAD TLS_DIR") };
    let contender = CONTENDERS.iter().find(|c| c.name == name).expect("a known contender");
    let workload = Workload::parse(workload).expect("a known workload");
    (contender.serve)(workload, Path::new(tls_dir));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        serve(&args[1..]);
        return;
    }
    let settings = Settings::parse(&args, "raw", 3);
    for name in settings.workloads.iter().flatten() {
        assert!(Workload::parse(name).is_some(), "workloads: {name}? (oneway, echo, rtt, concurrent)");
    }
    let contenders: Vec<&Contender> = CONTENDERS.iter().filter(|c| settings.wants(c.name)).collect();
    let (oneways, echoes, rtts) = (settings.count(ONEWAY), settings.count(ECHO), settings.count(RTT));
    let each = (settings.count(CONCURRENT) / REQUESTERS).max(1);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load_before = load_average();
    eprintln!("scale {} runs {}, {cores} cores, load {load_before}", settings.scale, settings.runs);
    let tls_dir = common::prepare_tls();

    let whole_run = CpuClock::now();
    let mut rows: Vec<Row> = contenders.iter().map(|_| Row::default()).collect();
    // Contenders take turns within each repetition, so drift hits all alike.
    for run in 1..=settings.runs {
        let repetition = CpuClock::now();
        for (c, row) in contenders.iter().zip(&mut rows) {
            for workload in Workload::ALL.into_iter().filter(|w| *w != Workload::Rtt && settings.does(w.name())) {
                let server = Server::start(c.name, workload, &tls_dir);
                let shown = match workload {
                    Workload::Oneway => {
                        let t = (c.oneway)(&server.peer, oneways as u64);
                        row.oneway.0.push(oneways as f64 / t.as_secs_f64());
                        format!("{} msg/s", rate(row.oneway.last()))
                    }
                    Workload::Echo => {
                        let t = (c.echo)(&server.peer, echoes as u64);
                        row.echo.0.push(2.0 * echoes as f64 / t.as_secs_f64());
                        format!("{} msg/s", rate(row.echo.last()))
                    }
                    Workload::Rtt => unreachable!("rtt alternates the contenders below"),
                    Workload::Concurrent => {
                        let t = (c.concurrent)(&server.peer, REQUESTERS, each as u64);
                        row.concurrent.0.push((each * REQUESTERS) as f64 / t.as_secs_f64());
                        format!("{} req/s", rate(row.concurrent.last()))
                    }
                };
                drop(server);
                eprintln!("run {run} {:14} {:10} {shown}", c.name, workload.name());
            }
        }
        if settings.does(Workload::Rtt.name()) {
            for (c, (row, times)) in
                contenders.iter().zip(rows.iter_mut().zip(round_trips(&contenders, rtts, &tls_dir)))
            {
                row.p50.0.push(common::percentile(&times, 50.0).as_secs_f64() * 1e6);
                row.p99.0.push(common::percentile(&times, 99.0).as_secs_f64() * 1e6);
                eprintln!(
                    "run {run} {:14} {:10} p50 {} µs, p99 {} µs",
                    c.name,
                    "rtt",
                    micros(row.p50.last()),
                    micros(row.p99.last())
                );
            }
        }
        eprintln!("run {run}: other processes kept {:.0}% of the cores busy", 100.0 * repetition.foreign_share(cores));
    }
    common::remove_tls(&tls_dir);

    println!("## Remote benchmark\n");
    println!(
        "{cores} cores, load average before {load_before}, after {} (this run included); other processes kept {:.0}% \
         of the cores busy during the run; scale {}, {} runs per figure: median (min–max). Client and server are \
         separate processes on loopback, each on a tokio runtime with 2 workers.\n",
        load_average(),
        100.0 * whole_run.foreign_share(cores),
        settings.scale,
        settings.runs
    );
    println!(
        "oneway: {oneways} msgs of {} bytes; echo: {echoes} msgs echoed, {} in flight, both directions counted; \
         rtt: {rtts} sequential round trips; concurrent: {REQUESTERS} requesters x {each} round trips.\n",
        common::PAYLOAD_LEN,
        common::WINDOW
    );
    println!(
        "| contender | oneway msg/s | vs raw | echo msg/s | vs raw | rtt p50 µs | vs raw | rtt p99 µs | vs raw | \
         concurrent req/s | vs raw |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let base = &rows[0];
    let (bo, be, b50, b99, bc) =
        (base.oneway.median(), base.echo.median(), base.p50.median(), base.p99.median(), base.concurrent.median());
    for (c, row) in contenders.iter().zip(&rows) {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            c.name,
            row.oneway.show(rate),
            ratio(row.oneway.median(), bo),
            row.echo.show(rate),
            ratio(row.echo.median(), be),
            row.p50.show(micros),
            ratio(row.p50.median(), b50),
            row.p99.show(micros),
            ratio(row.p99.median(), b99),
            row.concurrent.show(rate),
            ratio(row.concurrent.median(), bc),
        );
    }
}
