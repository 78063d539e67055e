//! A chat client: its own node, a `Member` actor the room calls back, and
//! lines from stdin said in the room.
//!
//! ```sh
//! cargo run --example chat_client -- 127.0.0.1:4433 ann
//! ```
//!
//! Start `chat_server` first (it makes the development CA in
//! `target/chat-certs`). Type lines to say them; end with Ctrl-D.

#[path = "chat/protocol.rs"]
mod protocol;

use courier::prelude::*;
use protocol::{CERTS, ChatRoomRef, Member, MemberRef};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Prints what the room says.
struct Screen;

impl Actor for Screen {}

impl Member for Screen {
    async fn hear(&mut self, line: String) {
        println!("{line}");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let server = args.next().unwrap_or_else(|| "127.0.0.1:4433".to_owned()).parse()?;
    let name = args.next().unwrap_or_else(|| "guest".to_owned());
    let tls = Tls::development(CERTS.as_ref(), &format!("chat-client-{name}"))?;
    let system = System::builder().listen("127.0.0.1:0").tls(tls).build()?;

    let room: ChatRoomRef = system.remote(server, "lobby").await?;
    let me: MemberRef = system.spawn(Screen).into();
    let here = room.join(name.clone(), me).await??;
    println!(
        "joined the lobby at {server} as {name}; here: {}",
        if here.is_empty() { "nobody".to_owned() } else { here.join(", ") }
    );

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        match room.say(name.clone(), line).await {
            Ok(Ok(())) => {}
            Ok(Err(refused)) => eprintln!("refused: {refused}"),
            Err(error) => {
                eprintln!("the room is unreachable: {error}");
                break;
            }
        }
    }
    let _ = room.leave(name).await;
    system.shutdown().await;
    Ok(())
}
