//! A request whose payload cannot be written fails with the reason, not as
//! if its node were down, and the connection goes on.

mod nodes;

use std::time::Duration;

use courier::__private::rkyv;
use courier::CallError;
use courier::prelude::*;
use nodes::{addr, node};
use rkyv::rancor::{Fallible, Source};
use rkyv::{Archive, Deserialize, Place, Serialize};
use tokio::time::timeout;

/// Far above anything on loopback: a test that needs it has hung.
const BOUND: Duration = Duration::from_secs(20);

/// A value whose archiving always fails, as a type of another crate with
/// rkyv impls of its own may (a path that is not UTF-8 archived as a
/// string, say).
#[derive(Debug)]
pub struct Unwritable;

#[derive(Debug)]
struct CannotWrite;

impl std::fmt::Display for CannotWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("this value cannot be written")
    }
}

impl std::error::Error for CannotWrite {}

impl Archive for Unwritable {
    type Archived = ();
    type Resolver = ();

    fn resolve(&self, (): (), _: Place<()>) {}
}

impl<S: Fallible + ?Sized> Serialize<S> for Unwritable
where
    S::Error: Source,
{
    fn serialize(&self, _: &mut S) -> Result<(), S::Error> {
        Err(S::Error::new(CannotWrite))
    }
}

impl<D: Fallible + ?Sized> Deserialize<Unwritable, D> for () {
    fn deserialize(&self, _: &mut D) -> Result<Unwritable, D::Error> {
        Ok(Unwritable)
    }
}

/// Takes values, one-way or called, and counts the ones it got.
#[courier::actor]
pub trait Sink {
    /// One-way.
    #[tell]
    async fn drop_one(&mut self, value: Unwritable);
    /// Called.
    async fn take_one(&mut self, value: Unwritable);
    /// One-way, always writable.
    #[tell]
    async fn bump(&mut self);
    /// How many arrived.
    async fn got(&self) -> u32;
}

#[derive(Default)]
struct Counter {
    got: u32,
}

impl Actor for Counter {}

impl Sink for Counter {
    async fn drop_one(&mut self, _: Unwritable) {
        self.got += 1;
    }

    async fn take_one(&mut self, _: Unwritable) {
        self.got += 1;
    }

    async fn bump(&mut self) {
        self.got += 1;
    }

    async fn got(&self) -> u32 {
        self.got
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_cannot_be_written_fails_with_the_reason() {
    let dir = nodes::certs("remote-unsendable", "unwritable");
    let (server, client) = (node(&dir, "server"), node(&dir, "client"));
    let sink: SinkRef = server.spawn(Counter::default()).into();
    server.serve("sink", &sink).expect("a free name");
    let remote: SinkRef = timeout(BOUND, client.remote(addr(&server), "sink")).await.expect("in time").expect("found");

    let told = timeout(BOUND, remote.drop_one(Unwritable)).await.expect("in time");
    assert!(matches!(&told, Err(CallError::Protocol { detail }) if detail.contains("cannot be written")), "{told:?}");
    let called = timeout(BOUND, remote.take_one(Unwritable)).await.expect("in time");
    assert!(
        matches!(&called, Err(CallError::Protocol { detail }) if detail.contains("cannot be written")),
        "{called:?}"
    );
    let tried = remote.drop_one(Unwritable).try_send().map_err(|refused| match refused {
        courier::TrySendError::Unsendable(_, error) => Some(error),
        _ => None,
    });
    assert!(matches!(&tried, Err(Some(CallError::Protocol { .. }))), "{tried:?}");

    // Nothing was half-sent: the connection and the actor go on.
    assert_eq!(timeout(BOUND, remote.bump()).await.expect("in time"), Ok(()));
    assert_eq!(timeout(BOUND, remote.got()).await.expect("in time"), Ok(1));

    client.shutdown().await;
    server.shutdown().await;
}
