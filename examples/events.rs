//! The event stream and dead letters: subscribe to the runtime's own events
//! (a message nobody could take, an actor that failed or ended) and publish
//! your own.
//!
//! Run it with `cargo run --example events`.

use courier::events::{ActorFailed, ActorTerminated, DeadLetter};
use courier::prelude::*;

/// A mailbox for orders.
#[courier::actor(local)]
pub trait Orders {
    /// Takes an order, one-way.
    #[tell]
    async fn place(&mut self, item: String);
    /// Closes the shop: the actor stops.
    async fn close(&self);
    /// Fails.
    async fn break_down(&self);
}

struct Shop;

impl Actor for Shop {}

impl Orders for Shop {
    async fn place(&mut self, item: String) {
        println!("shop: {item} ordered");
    }

    async fn close(&self) {
        Context::<Self>::current().stop();
    }

    async fn break_down(&self) {
        panic!("the oven broke");
    }
}

/// An event of the application's own.
#[derive(Clone, Debug)]
struct Opened {
    shop: &'static str,
}

#[tokio::main]
async fn main() {
    // The failure below is part of the example: report it through events only.
    std::panic::set_hook(Box::new(|_| {}));
    let system = System::new();
    let events = system.events();
    // Each subscription lasts until handed back to `unsubscribe`.
    let _dead_letters = events.subscribe(|letter: &DeadLetter| {
        println!("dead letter: {}::{} for {} ({})", letter.service, letter.method, letter.target, letter.error);
    });
    let _failures =
        events.subscribe(|failed: &ActorFailed| println!("{} ({}) failed: {}", failed.id, failed.actor, failed.reason));
    let _ends = events.subscribe(|ended: &ActorTerminated| println!("{} ended: {}", ended.id, ended.reason));
    let opened = events.subscribe(|opened: &Opened| println!("{} opened", opened.shop));

    events.publish(&Opened { shop: "bakery" });
    events.unsubscribe(opened);
    events.publish(&Opened { shop: "nobody hears of this one" });
    let bakery: OrdersRef = system.spawn(Shop).into();
    bakery.place("bread".into()).await.expect("open");
    let closed = bakery.close().await;
    // The shop is gone: the order fails, and the runtime reports it.
    let late = bakery.place("cake".into()).await;
    println!("close: {closed:?}, late order: {late:?}");

    let diner: OrdersRef = system.spawn(Shop).into();
    let broken = diner.break_down().await;
    println!("break_down: {broken:?}");
    system.shutdown().await;
    println!("{} dead letter(s) in all", system.dead_letter_count());
}
