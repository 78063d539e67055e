//! The local benchmark: courier side by side with a hand-written tokio actor
//! (the floor), actix, ractor and kameo, all measured in one run.
//!
//! `cargo bench --bench local` runs every workload and prints a markdown
//! table (median and range per figure, ratios to the floor) and the goals.
//! Options, as environment variables or arguments after `--`:
//!
//! - `COURIER_BENCH_SCALE` / `--scale X`: multiply every count by `X` (e.g.
//!   `0.01` for a smoke run);
//! - `COURIER_BENCH_RUNS` / `--runs N`: repetitions per figure (default 5);
//! - `COURIER_BENCH_ONLY` / `--only a,b`: only these contenders (the floor
//!   always runs);
//! - `COURIER_BENCH_WORKLOADS` / `--workloads tell,call,spawn,million`: only
//!   these workloads (for profiling one of them).
//!
//! Workloads: one sender telling 5M `bump(1)` messages to one actor, then one
//! call reading the count; 1M sequential calls; 100k idle actors spawned in a
//! fresh process each (this binary re-executes itself with `--spawn-child`),
//! and 1M idle courier actors in one process.

use std::process::Command;
use std::time::Duration;

#[path = "local/common.rs"]
mod common;
#[path = "local/floor.rs"]
mod floor;
#[path = "harness/mod.rs"]
mod harness;
#[path = "local/on_actix.rs"]
mod on_actix;
#[path = "local/on_courier.rs"]
mod on_courier;
#[path = "local/on_kameo.rs"]
mod on_kameo;
#[path = "local/on_ractor.rs"]
mod on_ractor;

use common::{CpuClock, Spawned};
use harness::{Figure, Settings, load_average, ratio};

const TELLS: f64 = 5_000_000.0;
const CALLS: f64 = 1_000_000.0;
const SPAWNS: f64 = 100_000.0;
const MILLION: f64 = 1_000_000.0;

struct Contender {
    name: &'static str,
    tell: fn(u64) -> Duration,
    call: fn(u64) -> Duration,
    spawn: fn(usize) -> Spawned,
}

const CONTENDERS: [Contender; 5] = [
    Contender { name: "floor", tell: floor::tell, call: floor::call, spawn: floor::spawn },
    Contender { name: "courier", tell: on_courier::tell, call: on_courier::call, spawn: on_courier::spawn },
    Contender { name: "actix", tell: on_actix::tell, call: on_actix::call, spawn: on_actix::spawn },
    Contender { name: "ractor", tell: on_ractor::tell, call: on_ractor::call, spawn: on_ractor::spawn },
    Contender { name: "kameo", tell: on_kameo::tell, call: on_kameo::call, spawn: on_kameo::spawn },
];

#[derive(Default)]
struct Row {
    tell: Figure,
    call: Figure,
    spawn_us: Figure,
    bytes: Figure,
}

fn rate(v: f64) -> String {
    format!("{:.2}M", v / 1e6)
}
fn whole(v: f64) -> String {
    format!("{v:.0}")
}
fn micros(v: f64) -> String {
    format!("{v:.2}")
}

/// Runs one spawn measurement in a fresh copy of this process.
fn spawn_in_child(name: &str, count: usize) -> Spawned {
    let exe = std::env::current_exe().expect("current exe");
    let out = Command::new(exe).args(["--spawn-child", name, &count.to_string()]).output().expect("run child");
    assert!(out.status.success(), "spawn child {name} failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find_map(|l| l.strip_prefix("spawned ")).expect("child result line");
    let mut fields = line.split_whitespace().map(|f| f.parse::<i64>().expect("child figure"));
    let (nanos, rss_delta) = (fields.next().expect("nanos"), fields.next().expect("rss"));
    Spawned { elapsed: Duration::from_nanos(nanos as u64), rss_delta }
}

/// The child side of [`spawn_in_child`]: measure, print, exit.
fn child(args: &[String]) {
    let (name, count) = match args {
        [name, count] => (name.as_str(), count.parse().expect("count")),
        _ => panic!("usage: --spawn-child NAME COUNT"),
    };
    let contender = CONTENDERS.iter().find(|c| c.name == name).expect("known contender");
    let spawned = (contender.spawn)(count);
    println!("spawned {} {}", spawned.elapsed.as_nanos(), spawned.rss_delta);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--spawn-child") {
        child(&args[1..]);
        return;
    }
    let settings = Settings::parse(&args, "floor", 5);
    let contenders: Vec<&Contender> = CONTENDERS.iter().filter(|c| settings.wants(c.name)).collect();
    let (tells, calls, spawns, million) =
        (settings.count(TELLS), settings.count(CALLS), settings.count(SPAWNS), settings.count(MILLION));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load_before = load_average();
    eprintln!("scale {} runs {}, {cores} cores, load {load_before}", settings.scale, settings.runs);

    let whole_run = CpuClock::now();
    let mut rows: Vec<Row> = contenders.iter().map(|_| Row::default()).collect();
    // Contenders take turns within each repetition, so drift hits all alike.
    for run in 1..=settings.runs {
        let repetition = CpuClock::now();
        for (c, row) in contenders.iter().zip(&mut rows) {
            if settings.does("tell") {
                let t = (c.tell)(tells as u64);
                row.tell.0.push(tells as f64 / t.as_secs_f64());
            }
            if settings.does("call") {
                let t = (c.call)(calls as u64);
                row.call.0.push(t.as_nanos() as f64 / calls as f64);
            }
            if settings.does("spawn") {
                let s = spawn_in_child(c.name, spawns);
                row.spawn_us.0.push(s.elapsed.as_secs_f64() * 1e6 / spawns as f64);
                row.bytes.0.push(s.rss_delta as f64 / spawns as f64);
            }
            eprintln!(
                "run {run} {:8} tell {:>8} msg/s  call {:>6.0} ns  spawn {:>6.2} µs  {:>6.0} B",
                c.name,
                rate(row.tell.last()),
                row.call.last(),
                row.spawn_us.last(),
                row.bytes.last(),
            );
        }
        eprintln!("run {run}: other processes kept {:.0}% of the cores busy", 100.0 * repetition.foreign_share(cores));
    }
    let mut million_row = Row::default();
    if settings.wants("courier") && settings.does("million") {
        for run in 1..=settings.runs.min(3) {
            let s = spawn_in_child("courier", million);
            million_row.spawn_us.0.push(s.elapsed.as_secs_f64() * 1e6 / million as f64);
            million_row.bytes.0.push(s.rss_delta as f64 / million as f64);
            eprintln!(
                "run {run} courier x{million}: {:.2} s, {:.0} B/actor",
                s.elapsed.as_secs_f64(),
                s.rss_delta as f64 / million as f64
            );
        }
    }

    println!("## Local benchmark\n");
    println!(
        "{cores} cores, load average before {load_before}, after {} (this run included); other processes kept {:.0}% \
         of the cores busy during the run; scale {}, {} runs per figure: median (min–max).\n",
        load_average(),
        100.0 * whole_run.foreign_share(cores),
        settings.scale,
        settings.runs
    );
    println!("tell: {tells} msgs; call: {calls} sequential calls; spawn: {spawns} idle actors in a fresh process.\n");
    println!(
        "| contender | tell msg/s | vs floor | call ns | vs floor | spawn µs/actor | vs floor | bytes/actor | vs floor |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let floor = &rows[0];
    let (ft, fc, fs, fb) = (floor.tell.median(), floor.call.median(), floor.spawn_us.median(), floor.bytes.median());
    for (c, row) in contenders.iter().zip(&rows) {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            c.name,
            row.tell.show(rate),
            ratio(row.tell.median(), ft),
            row.call.show(whole),
            ratio(row.call.median(), fc),
            row.spawn_us.show(micros),
            ratio(row.spawn_us.median(), fs),
            row.bytes.show(whole),
            ratio(row.bytes.median(), fb),
        );
    }
    let courier = contenders.iter().position(|c| c.name == "courier");
    if let (Some(i), None) = (courier, &settings.workloads) {
        print_goals(&contenders, &rows, i, &million_row, spawns, million);
    }
}

fn print_goals(contenders: &[&Contender], rows: &[Row], courier: usize, million: &Row, spawns: usize, count: usize) {
    let yes = |ok: bool| if ok { "met" } else { "NOT met" };
    let c = &rows[courier];
    let tell = c.tell.median() / rows[0].tell.median();
    let call = c.call.median() / rows[0].call.median();
    let best_peer = contenders
        .iter()
        .zip(rows)
        .filter(|(k, _)| !matches!(k.name, "floor" | "courier"))
        .map(|(k, r)| (k.name, r.tell.median()))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    println!("\n### Goals\n");
    println!("| goal | measured | verdict |");
    println!("| --- | --- | --- |");
    println!("| tell >= 0.8x floor | {tell:.2}x | {} |", yes(tell >= 0.8));
    if let Some((peer, rate)) = best_peer {
        let vs = c.tell.median() / rate;
        println!("| tell above every peer | {vs:.2}x the best peer ({peer}) | {} |", yes(vs > 1.0));
    }
    println!("| call <= 1.3x floor | {call:.2}x | {} |", yes(call <= 1.3));
    let bytes = c.bytes.median();
    println!("| <= 1 KiB per idle actor ({spawns} actors) | {bytes:.0} B | {} |", yes(bytes <= 1024.0));
    if !million.bytes.0.is_empty() {
        let (us, b) = (million.spawn_us.median(), million.bytes.median());
        println!(
            "| {count} idle actors in one process | {:.2} s, {} µs/actor, {} B/actor | {} |",
            us * count as f64 / 1e6,
            million.spawn_us.show(micros),
            million.bytes.show(whole),
            yes(b <= 1024.0)
        );
    }
}
