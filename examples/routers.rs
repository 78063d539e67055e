//! Routers: one ref in front of several workers, used through the service's
//! own ref type. A pool round-robins, a group hashes keys onto workers, and
//! a broadcast reaches everyone.
//!
//! Run it with `cargo run --example routers`.

use std::collections::HashMap;

use courier::prelude::*;
use courier::{Router, Routing};

/// Resizes images; any worker will do.
#[courier::actor]
pub trait Thumbnails {
    /// Makes a thumbnail of `image`; says which worker did it.
    async fn resize(&self, image: String) -> String;
    /// Counts a visit to `page`; returns the worker and the page's count.
    async fn visit(&mut self, page: String) -> (String, u64);
    /// Forgets every count, one-way.
    #[tell]
    async fn reset(&mut self);
}

#[derive(Default)]
struct Worker {
    visits: HashMap<String, u64>,
}

impl Actor for Worker {}

impl Thumbnails for Worker {
    async fn resize(&self, image: String) -> String {
        format!("{image} by worker {}", Context::<Self>::current().id().seq)
    }

    async fn visit(&mut self, page: String) -> (String, u64) {
        let count = self.visits.entry(page).or_default();
        *count += 1;
        (format!("worker {}", Context::<Self>::current().id().seq), *count)
    }

    async fn reset(&mut self) {
        self.visits.clear();
    }
}

/// Written against one `ThumbnailsRef`: a router is one too.
async fn make_thumbnails(service: &ThumbnailsRef, images: &[&str]) {
    for image in images {
        println!("{}", service.resize((*image).into()).await.expect("resized"));
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let system = System::new();

    // A pool: the router spawns and supervises its three workers.
    let pool: Router<ThumbnailsRef> = system.pool(3, Routing::round_robin(), Worker::default)?;
    make_thumbnails(&pool.service(), &["cat.png", "dog.png", "owl.png", "fox.png"]).await;

    // A group over existing workers, each page always counted by the same one.
    let workers: Vec<ThumbnailsRef> = (0..3).map(|_| system.spawn(Worker::default()).into()).collect();
    let by_page = Routing::consistent_hash(|request: &ThumbnailsRequest| match request {
        ThumbnailsRequest::Visit(page) => page.clone(),
        _ => String::new(),
    });
    let pages = system.group(workers.clone(), by_page)?;
    for page in ["/home", "/about", "/home", "/shop", "/home"] {
        let (worker, count) = pages.visit(page.into()).await?;
        println!("{page}: visit {count}, counted by {worker}");
    }

    // A broadcast: every worker forgets its counts.
    let everyone = system.group(workers, Routing::broadcast())?;
    everyone.reset().await?;
    let (worker, count) = pages.visit("/home".into()).await?;
    println!("/home after the reset: visit {count}, counted by {worker}");

    system.shutdown().await;
    Ok(())
}
