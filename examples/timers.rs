//! Timers: ticks sent at an interval and cancelled by their handle, a
//! receive timeout, and per-user sessions that stop themselves when idle.
//!
//! Run it with `cargo run --example timers`.

use std::time::Duration;

use courier::Timer;
use courier::prelude::*;

/// Something that ticks.
#[courier::actor(local)]
pub trait Clock {
    /// One tick.
    #[tell]
    async fn tick(&mut self, n: u32);
}

struct Metronome {
    ticks: Option<Timer>,
}

impl Actor for Metronome {
    async fn started(&mut self, ctx: &Context<Self>) {
        let me: ClockRef = ctx.myself().into();
        let mut n = 0;
        let every = Duration::from_millis(100);
        self.ticks = Some(ctx.send_interval(every, &me, move || {
            n += 1;
            ClockRequest::Tick(n)
        }));
        // Told whenever nothing arrived for 250 ms.
        ctx.set_receive_timeout(Duration::from_millis(250));
    }

    async fn receive_timeout(&mut self, ctx: &Context<Self>) {
        println!("metronome: quiet for 250 ms, stopping");
        ctx.stop();
    }
}

impl Clock for Metronome {
    async fn tick(&mut self, n: u32) {
        println!("metronome: tick {n}");
        if n == 3 {
            // Cancelled by its handle: no tick 4.
            if let Some(ticks) = &self.ticks {
                ticks.cancel();
            }
        }
    }
}

/// A user's session: one actor per user, found by name.
#[courier::actor(local)]
pub trait Session {
    /// Something the user did; returns how many actions this session saw.
    async fn act(&mut self, what: String) -> usize;
}

struct UserSession {
    user: String,
    actions: usize,
}

impl Actor for UserSession {
    async fn started(&mut self, ctx: &Context<Self>) {
        // Sessions must not pile up: each stops after 300 ms without a message.
        ctx.stop_when_idle(Duration::from_millis(300));
    }

    async fn stopped(&mut self, _: &Context<Self>) {
        println!("{}: idle, session closed after {} action(s)", self.user, self.actions);
    }
}

impl Session for UserSession {
    async fn act(&mut self, what: String) -> usize {
        self.actions += 1;
        println!("{}: {what}", self.user);
        self.actions
    }
}

/// The session of `user`: the live one, or a new one.
async fn session(system: &System, user: &str) -> SessionRef {
    let make = || UserSession { user: user.to_owned(), actions: 0 };
    system.get_or_spawn_named(format!("session:{user}"), make).await.expect("a session").into()
}

#[tokio::main]
async fn main() {
    let system = System::new();
    let metronome = system.spawn(Metronome { ticks: None });
    session(&system, "ann").await.act("logs in".into()).await.expect("handled");
    tokio::time::sleep(Duration::from_millis(100)).await;
    session(&system, "ann").await.act("reads her mail".into()).await.expect("handled");
    metronome.wait_stopped().await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let seen = session(&system, "ann").await.act("comes back".into()).await.expect("handled");
    println!("ann's new session has seen {seen} action(s)");
    system.shutdown().await;
}
