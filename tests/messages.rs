//! User types in calls, through `#[derive(courier::Message)]`, and actor
//! settings through `#[derive(courier::Actor)]`. This crate depends on
//! `courier` and tokio only: no rkyv of its own.

use std::collections::HashMap;
use std::time::Duration;

use courier::prelude::*;
use courier::{MailboxSize, TrySendError};
use tokio::time::timeout;

/// Far above what any step needs.
const BOUND: Duration = Duration::from_secs(10);

/// A square of the board.
#[derive(courier::Message, Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Square {
    pub x: u8,
    pub y: u8,
}

/// What a player does on their turn.
#[derive(courier::Message, Debug, Clone, PartialEq)]
enum Move {
    Place { at: Square, note: Option<String> },
    Slide(Square, Square),
    Pass,
}

/// A player, with a nested profile, a list and a ref to call back.
#[derive(courier::Message, Debug, Clone, PartialEq)]
struct Player {
    pub name: String,
    pub profile: Box<Profile>,
    pub titles: Vec<String>,
    pub watcher: Option<WatcherRef>,
}

/// Nested inside a player.
#[derive(courier::Message, Debug, Clone, PartialEq)]
struct Profile {
    pub rating: u32,
    pub country: Option<String>,
}

/// A generic page of results, linked to the next one.
#[derive(courier::Message, Debug, Clone, PartialEq)]
struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Box<Self>>,
}

/// A generic query with a bound.
#[derive(courier::Message, Debug, Clone, PartialEq)]
struct Query<K: Ord>
where
    K: Copy,
{
    pub from: K,
    pub limit: usize,
}

/// The handler's own error, which must stay apart from `CallError`.
#[derive(courier::Message, Debug, Clone, PartialEq)]
enum GameError {
    Occupied(Square),
    NotSeated { name: String },
    Closed,
}

/// A game board.
#[courier::actor]
trait Game {
    async fn join(&mut self, player: Player) -> Result<u8, GameError>;
    async fn play(&mut self, seat: u8, mv: Move) -> Result<Vec<Square>, GameError>;
    async fn history(&self, query: Query<u32>) -> Page<Move>;
    async fn ratings(&self) -> HashMap<String, Profile>;
}

/// Told about every move.
#[courier::actor]
trait Watcher {
    async fn saw(&mut self, by: String, mv: Move);
    async fn seen(&self) -> Vec<(String, Move)>;
}

#[derive(Actor, Default)]
#[courier(name = "board")]
struct Board {
    players: Vec<Player>,
    taken: Vec<Square>,
    moves: Vec<Move>,
}

impl Game for Board {
    async fn join(&mut self, player: Player) -> Result<u8, GameError> {
        self.players.push(player);
        Ok(self.players.len() as u8 - 1)
    }

    async fn play(&mut self, seat: u8, mv: Move) -> Result<Vec<Square>, GameError> {
        let player = self.players.get(seat as usize).ok_or(GameError::NotSeated { name: format!("seat {seat}") })?;
        if let Move::Place { at, .. } | Move::Slide(_, at) = &mv {
            if self.taken.contains(at) {
                return Err(GameError::Occupied(*at));
            }
            self.taken.push(*at);
        }
        if let Some(watcher) = &player.watcher {
            // A ref that came inside a message, called back.
            watcher.saw(player.name.clone(), mv.clone()).await.map_err(|_| GameError::Closed)?;
        }
        self.moves.push(mv);
        Ok(self.taken.clone())
    }

    async fn history(&self, query: Query<u32>) -> Page<Move> {
        let mut pages = self.moves.chunks(query.limit.max(1)).skip(query.from as usize).rev();
        let mut page = pages.next().map(|items| Page { items: items.to_vec(), next: None });
        for items in pages {
            page = Some(Page { items: items.to_vec(), next: page.map(Box::new) });
        }
        page.unwrap_or(Page { items: Vec::new(), next: None })
    }

    async fn ratings(&self) -> HashMap<String, Profile> {
        self.players.iter().map(|player| (player.name.clone(), (*player.profile).clone())).collect()
    }
}

#[derive(Actor, Default)]
struct Spectator(Vec<(String, Move)>);

impl Watcher for Spectator {
    async fn saw(&mut self, by: String, mv: Move) {
        self.0.push((by, mv));
    }
    async fn seen(&self) -> Vec<(String, Move)> {
        self.0.clone()
    }
}

fn player(name: &str, watcher: Option<WatcherRef>) -> Player {
    Player {
        name: name.to_owned(),
        profile: Box::new(Profile { rating: 1500, country: Some("NZ".to_owned()) }),
        titles: vec!["FM".to_owned()],
        watcher,
    }
}

#[tokio::test]
async fn user_types_go_into_calls_and_come_back() -> Result<(), CallError> {
    let system = System::new();
    let game: GameRef = system.spawn(Board::default()).into();
    let seat = game.join(player("ann", None)).await?.expect("a seat");
    let a = Square { x: 1, y: 1 };
    assert_eq!(game.play(seat, Move::Place { at: a, note: Some("opening".to_owned()) }).await?, Ok(vec![a]));
    let b = Square { x: 2, y: 1 };
    assert_eq!(game.play(seat, Move::Slide(a, b)).await?, Ok(vec![a, b]));
    assert_eq!(game.play(seat, Move::Pass).await?, Ok(vec![a, b]));

    let page = game.history(Query { from: 0, limit: 2 }).await?;
    assert_eq!(page.items.len(), 2);
    let next = page.next.expect("a second page");
    assert_eq!(next.items, [Move::Pass]);
    assert_eq!(next.next, None);

    let ratings = game.ratings().await?;
    assert_eq!(ratings["ann"], Profile { rating: 1500, country: Some("NZ".to_owned()) });
    system.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_handler_error_reaches_the_caller_intact() -> Result<(), CallError> {
    let system = System::new();
    let game: GameRef = system.spawn(Board::default()).into();
    let seat = game.join(player("ann", None)).await?.expect("a seat");
    let a = Square { x: 0, y: 7 };
    game.play(seat, Move::Place { at: a, note: None }).await?.expect("a free square");

    // The call succeeded; the handler said no, with its own error.
    assert_eq!(game.play(seat, Move::Place { at: a, note: None }).await, Ok(Err(GameError::Occupied(a))));
    assert_eq!(
        game.play(9, Move::Pass).await?,
        Err(GameError::NotSeated { name: "seat 9".to_owned() }),
        "struct variants of the error survive too"
    );

    // A delivery failure is a `CallError`, never the handler's error.
    system.shutdown().await;
    assert_eq!(game.play(seat, Move::Pass).await, Err(CallError::ActorStopped));
    Ok(())
}

#[tokio::test]
async fn a_ref_inside_a_user_type_is_called_back() -> Result<(), CallError> {
    let system = System::new();
    let game: GameRef = system.spawn(Board::default()).into();
    let watcher: WatcherRef = system.spawn(Spectator::default()).into();
    let seat = game.join(player("bo", Some(watcher.clone()))).await?.expect("a seat");
    let at = Square { x: 3, y: 3 };
    game.play(seat, Move::Place { at, note: None }).await?.expect("a free square");
    assert_eq!(watcher.seen().await?, [("bo".to_owned(), Move::Place { at, note: None })]);
    system.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn requests_and_responses_with_user_types_survive_bytes() {
    use courier::__private::rkyv;
    use rkyv::rancor::Error;

    let system = System::new();
    let watcher: WatcherRef = system.spawn(Spectator::default()).into();
    let request = GameRequest::Join(player("cy", Some(watcher.clone())));
    let bytes = rkyv::to_bytes::<Error>(&request).expect("serializes");
    match rkyv::from_bytes::<GameRequest, Error>(&bytes).expect("reads back") {
        GameRequest::Join(back) => assert_eq!(back, player("cy", Some(watcher))),
        _ => panic!("another variant"),
    }

    let page = Page { items: vec![Move::Pass], next: Some(Box::new(Page { items: Vec::new(), next: None })) };
    let response = GameResponse::History(page.clone());
    let bytes = rkyv::to_bytes::<Error>(&response).expect("serializes");
    assert!(matches!(rkyv::from_bytes::<GameResponse, Error>(&bytes), Ok(GameResponse::History(back)) if back == page));

    let error = GameResponse::Play(Err(GameError::Occupied(Square { x: 1, y: 2 })));
    let bytes = rkyv::to_bytes::<Error>(&error).expect("serializes");
    assert!(matches!(
        rkyv::from_bytes::<GameResponse, Error>(&bytes),
        Ok(GameResponse::Play(Err(GameError::Occupied(Square { x: 1, y: 2 }))))
    ));

    // Truncated bytes are refused, not trusted.
    assert!(rkyv::from_bytes::<GameResponse, Error>(&bytes[..bytes.len() / 2]).is_err());
    system.shutdown().await;
}

/// A one-way service for the mailbox settings.
#[courier::actor]
trait Inbox {
    #[tell]
    async fn put(&mut self, n: u32);
    async fn ping(&self, other: InboxRef) -> Result<(), CallError>;
}

#[derive(Actor)]
#[courier(mailbox = 2, name = "inbox")]
struct Small(tokio::sync::mpsc::UnboundedReceiver<()>);

#[derive(Actor)]
#[courier(mailbox = unbounded)]
struct Large;

impl Inbox for Small {
    async fn put(&mut self, _: u32) {
        // Waits until the test lets it go, so the mailbox fills.
        self.0.recv().await;
    }
    async fn ping(&self, other: InboxRef) -> Result<(), CallError> {
        other.ping(Context::<Self>::current().myself().into()).await?
    }
}

impl Inbox for Large {
    async fn put(&mut self, _: u32) {}
    async fn ping(&self, _: InboxRef) -> Result<(), CallError> {
        Ok(())
    }
}

#[tokio::test]
async fn derived_settings_take_effect() -> Result<(), CallError> {
    assert_eq!(Small::MAILBOX, MailboxSize::Bounded(2));
    assert_eq!(Large::MAILBOX, MailboxSize::Unbounded);
    assert_eq!((Small::name(), Large::name(), Board::name()), ("inbox", "Large", "board"));

    let system = System::new();
    let (release, gate) = tokio::sync::mpsc::unbounded_channel();
    let small: InboxRef = system.spawn(Small(gate)).into();
    small.put(0).await?; // taken by the handler, which waits
    small.put(1).await?;
    small.put(2).await?;
    match small.put(3).try_send() {
        Err(TrySendError::Full(InboxRequest::Put(3))) => {}
        Err(_) => panic!("expected the message back in Full"),
        Ok(()) => panic!("a mailbox of 2 took a third message"),
    }

    let large: InboxRef = system.spawn(Large).into();
    for n in 0..10_000 {
        assert!(large.put(n).try_send().is_ok(), "an unbounded mailbox is never full");
    }

    // The name shows in deadlock chains: inbox -> inbox.
    for _ in 0..3 {
        release.send(()).expect("the actor is waiting");
    }
    let other: InboxRef = system.spawn(Small(tokio::sync::mpsc::unbounded_channel().1)).into();
    let chain = match timeout(BOUND, small.ping(other)).await.expect("no hang")? {
        Err(CallError::Deadlock { chain }) => chain.to_string(),
        other => panic!("expected a deadlock, got {other:?}"),
    };
    assert!(chain.starts_with("inbox#") && chain.contains(" -> inbox#"), "{chain}");
    system.shutdown().await;
    Ok(())
}
