//! A chat server: one node serving a chat room as `lobby`.
//!
//! ```sh
//! cargo run --example chat_server -- 127.0.0.1:4433
//! cargo run --example chat_client -- 127.0.0.1:4433 ann   # in another terminal
//! ```
//!
//! Development certificates (a CA and one identity per node) are made in
//! `target/chat-certs` on first run; every node of the chat uses that CA.

#[path = "chat/protocol.rs"]
mod protocol;

use courier::prelude::*;
use protocol::{CERTS, ChatError, ChatRoom, ChatRoomRef, MemberRef};

#[derive(Default)]
struct Room {
    members: Vec<(String, MemberRef)>,
}

impl Room {
    /// Tells every member `line`; a member whose node is gone is dropped.
    async fn broadcast(&mut self, line: String) {
        let mut gone = Vec::new();
        for (name, member) in &self.members {
            if member.hear(line.clone()).await.is_err() {
                gone.push(name.clone());
            }
        }
        self.members.retain(|(name, _)| !gone.contains(name));
        for name in gone {
            println!("{name} is unreachable and left");
        }
    }
}

impl Actor for Room {
    /// A member's actor is gone (its client quit, or its node was lost):
    /// it leaves without having said so.
    async fn terminated(&mut self, _: &Context<Self>, notice: Terminated) {
        let Some(at) = self.members.iter().position(|(_, member)| member.actor_id() == notice.id) else { return };
        let (name, _) = self.members.remove(at);
        println!("{name} is gone ({})", notice.reason);
        self.broadcast(format!("* {name} left")).await;
    }
}

impl ChatRoom for Room {
    async fn join(&mut self, name: String, member: MemberRef) -> Result<Vec<String>, ChatError> {
        if self.members.iter().any(|(taken, _)| *taken == name) {
            return Err(ChatError::NameTaken(name));
        }
        let here = self.members.iter().map(|(name, _)| name.clone()).collect();
        println!("{name} joined");
        self.broadcast(format!("* {name} joined")).await;
        // Told when the member is gone, even if its node is lost silently.
        Context::<Self>::current().watch(&member);
        self.members.push((name, member));
        Ok(here)
    }

    async fn say(&mut self, name: String, text: String) -> Result<(), ChatError> {
        if !self.members.iter().any(|(member, _)| *member == name) {
            return Err(ChatError::NotAMember(name));
        }
        self.broadcast(format!("{name}: {text}")).await;
        Ok(())
    }

    async fn leave(&mut self, name: String) {
        let Some(at) = self.members.iter().position(|(member, _)| *member == name) else { return };
        let (_, member) = self.members.remove(at);
        Context::<Self>::current().unwatch(&member);
        println!("{name} left");
        self.broadcast(format!("* {name} left")).await;
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:4433".to_owned());
    let tls = Tls::development(CERTS.as_ref(), "chat-server")?;
    let system = System::builder().listen(addr.as_str()).tls(tls).build()?;
    let room: ChatRoomRef = system.spawn(Room::default()).into();
    system.serve("lobby", &room)?;
    println!("chat server listening on {} (certificates in {CERTS}); Ctrl-C to stop", addr_of(&system));
    tokio::signal::ctrl_c().await?;
    system.shutdown().await;
    Ok(())
}

fn addr_of(system: &System) -> String {
    system.local_addr().map_or_else(|| "?".to_owned(), |addr| addr.to_string())
}
