//! Stash: an actor that must load before it serves puts requests aside,
//! answers health checks meanwhile, and serves the stashed requests in
//! their order once loaded; callers just await.
//!
//! Run it with `cargo run --example stash`.

use std::collections::HashMap;
use std::time::Duration;

use courier::prelude::*;
use courier::stash::{Admit, Queued};

/// A price list, loaded at start.
#[courier::actor(local)]
pub trait Prices {
    /// The price of `item`, once loaded.
    async fn price(&self, item: String) -> Option<u32>;
    /// Whether the list is loaded; answered at once.
    async fn ready(&self) -> bool;
}

/// Where the loading finishes (on the actor, as a message).
#[courier::actor(local)]
pub trait Loading {
    /// The list arrived.
    #[tell]
    async fn loaded(&mut self, prices: HashMap<String, u32>);
}

#[derive(Default)]
struct PriceList {
    prices: Option<HashMap<String, u32>>,
}

impl Actor for PriceList {
    async fn started(&mut self, ctx: &Context<Self>) {
        // Load without blocking the mailbox: requests arrive meanwhile.
        let me: LoadingRef = ctx.myself().into();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let prices = HashMap::from([("tea".to_owned(), 3), ("cake".to_owned(), 5)]);
            me.loaded(prices).await.expect("the list is alive");
        });
    }

    fn admit(&self, _: &Context<Self>, message: &Queued<'_>) -> Admit {
        let waits = matches!(message.request::<PricesRequest>(), Some(PricesRequest::Price(_)));
        if waits && self.prices.is_none() { Admit::Stash } else { Admit::Handle }
    }
}

impl Prices for PriceList {
    async fn price(&self, item: String) -> Option<u32> {
        self.prices.as_ref()?.get(&item).copied()
    }

    async fn ready(&self) -> bool {
        self.prices.is_some()
    }
}

impl Loading for PriceList {
    async fn loaded(&mut self, prices: HashMap<String, u32>) {
        self.prices = Some(prices);
        let waiting = Context::<Self>::current().unstash_all();
        println!("loaded; {waiting} stashed request(s) come back");
    }
}

#[tokio::main]
async fn main() {
    let system = System::new();
    let prices: PricesRef = system.spawn(PriceList::default()).into();
    let asks: Vec<_> = ["tea", "cake", "soup"]
        .into_iter()
        .map(|item| {
            let prices = prices.clone();
            tokio::spawn(async move { (item, prices.price(item.into()).await) })
        })
        .collect();
    println!("ready? {:?}", prices.ready().await);
    for ask in asks {
        let (item, price) = ask.await.expect("no panic");
        println!("{item}: {price:?}");
    }
    println!("ready? {:?}", prices.ready().await);
    system.shutdown().await;
}
