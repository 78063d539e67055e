//! What every contender shares: the runtime, the mailbox capacity, the
//! start-up counter, and the resident-memory probe.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The mailbox capacity given to every contender whose API takes one.
pub const CAPACITY: usize = 1024;

/// Bytes per page of `/proc/self/statm` (x86_64 Linux).
const PAGE_SIZE: u64 = 4096;

/// Actors that have run their start hook, over the whole process.
static STARTED: AtomicUsize = AtomicUsize::new(0);

/// Called from each contender's start hook (or the floor task's first line).
pub fn started() {
    STARTED.fetch_add(1, Ordering::Relaxed);
}

/// How many actors have started so far in this process.
pub fn started_count() -> usize {
    STARTED.load(Ordering::Relaxed)
}

/// Waits (polling every millisecond) until `target` actors have started.
pub async fn wait_started(target: usize) {
    while STARTED.load(Ordering::Relaxed) < target {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Resident memory of this process, in bytes, from `/proc/self/statm`.
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|f| f.parse().ok()).expect("statm resident field");
    pages * PAGE_SIZE
}

/// The result of one spawn measurement.
#[derive(Debug, Clone, Copy)]
pub struct Spawned {
    /// From the first spawn until every actor has run its start hook.
    pub elapsed: Duration,
    /// Resident-memory growth while the actors are alive and idle.
    pub rss_delta: i64,
}

/// Spawns `n` actors with `spawn_one`, holding what it returns, waits until
/// all have started, lets the runtime settle, and reads the RSS growth.
pub async fn measure_spawn<R, F, Fut>(n: usize, mut spawn_one: F) -> Spawned
where
    F: FnMut() -> Fut,
    Fut: Future<Output = R>,
{
    let mut refs = Vec::with_capacity(n);
    let target = started_count() + n;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let before = rss_bytes();
    let start = Instant::now();
    for _ in 0..n {
        refs.push(spawn_one().await);
    }
    wait_started(target).await;
    let elapsed = start.elapsed();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let rss_delta = rss_bytes() as i64 - before as i64;
    // The actors stay alive (and idle) until after the measurement.
    drop(refs);
    Spawned { elapsed, rss_delta }
}

/// Runs `work` as a task on a fresh tokio multi-thread runtime with two
/// worker threads (the machine has two cores), so the driver and the actors
/// share the same two workers.
pub fn on_tokio<T, F>(work: F) -> T
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let rt = runtime();
    let out = rt.block_on(rt.spawn(work)).expect("benchmark task panicked");
    // Actors left behind (idle ones after a spawn run) are not waited for.
    rt.shutdown_background();
    out
}

/// The runtime [`on_tokio`] runs its work on: multi-thread, two workers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("build tokio runtime")
}

/// Times `work`, a future returning the value to check.
pub async fn timed<T>(work: impl Future<Output = T>) -> (Duration, T) {
    let start = Instant::now();
    let out = work.await;
    (start.elapsed(), out)
}

/// What the tell and call workloads need of a contender's counter actor.
pub trait Counter {
    /// Sends `bump(1)` one-way, waiting for room where the contender can.
    async fn bump(&self);
    /// Calls `add(k)` and returns the new total.
    async fn add(&self, k: u64) -> u64;
}

/// The tell workload: warm-up calls, then `n` one-way `bump(1)` and one
/// `add(0)` reading the total, timed together; the total must be `n`.
pub async fn tell_workload(who: &str, n: u64, counter: &impl Counter) -> Duration {
    for _ in 0..warmup(n) {
        counter.add(0).await;
    }
    let (elapsed, total) = timed(async {
        for _ in 0..n {
            counter.bump().await;
        }
        counter.add(0).await
    })
    .await;
    assert_eq!(total, n, "{who} counted every message");
    elapsed
}

/// The call workload: warm-up calls, then `n` sequential `add(1)`, timed;
/// the last reply must be `n`.
pub async fn call_workload(who: &str, n: u64, counter: &impl Counter) -> Duration {
    for _ in 0..warmup(n) {
        counter.add(0).await;
    }
    let (elapsed, last) = timed(async {
        let mut last = 0;
        for _ in 0..n {
            last = counter.add(1).await;
        }
        last
    })
    .await;
    assert_eq!(last, n, "{who} answered every call");
    elapsed
}

/// Untimed calls before a measurement: warms the threads, the allocator and
/// the caches.
pub fn warmup(n: u64) -> u64 {
    (n / 100).clamp(10, 10_000)
}

/// A reading of CPU time, to tell how much of the machine other processes
/// took during a measurement (the figures are only as good as that share).
pub struct CpuClock {
    at: Instant,
    busy_ticks: u64,
    own_ticks: u64,
}

/// Clock ticks per second of `/proc/stat` and `/proc/self/stat` (Linux).
const USER_HZ: f64 = 100.0;

impl CpuClock {
    /// Reads the busy time of all cores and of this process and its
    /// waited-for children.
    pub fn now() -> CpuClock {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let cpu: Vec<u64> =
            stat.lines().next().unwrap_or_default().split_whitespace().skip(1).map_while(|f| f.parse().ok()).collect();
        // user nice system idle iowait irq softirq steal: everything but idle and iowait.
        let busy_ticks = cpu.iter().take(8).enumerate().filter(|(i, _)| *i != 3 && *i != 4).map(|(_, t)| t).sum();
        let own = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let after_name = own.rsplit_once(')').map_or("", |(_, rest)| rest);
        // utime stime cutime cstime are fields 14-17; `after_name` starts at field 3.
        let own_ticks = after_name.split_whitespace().skip(11).take(4).filter_map(|f| f.parse::<u64>().ok()).sum();
        CpuClock { at: Instant::now(), busy_ticks, own_ticks }
    }

    /// The share of the machine's cores other processes kept busy since
    /// this reading (0.0 = nobody else ran, 1.0 = all cores).
    pub fn foreign_share(&self, cores: usize) -> f64 {
        let now = CpuClock::now();
        let foreign =
            now.busy_ticks.saturating_sub(self.busy_ticks) as f64 - now.own_ticks.saturating_sub(self.own_ticks) as f64;
        let capacity = self.at.elapsed().as_secs_f64() * USER_HZ * cores.max(1) as f64;
        (foreign / capacity).clamp(0.0, 1.0)
    }
}
