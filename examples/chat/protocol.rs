//! The chat's services, shared by `chat_server` and `chat_client`.

/// Where both examples keep their development certificates (one CA, one
/// identity per node), made on first run.
pub const CERTS: &str = "target/chat-certs";

/// A chat room, served by `chat_server` as `lobby`.
#[courier::actor]
pub trait ChatRoom {
    /// Joins under `name`; the room calls `member` back with every line.
    /// Returns who else is here.
    async fn join(&mut self, name: String, member: MemberRef) -> Result<Vec<String>, ChatError>;
    /// Sends `text` to every member.
    async fn say(&mut self, name: String, text: String) -> Result<(), ChatError>;
    /// Leaves the room.
    async fn leave(&mut self, name: String);
}

/// A member of a room, living on the client's node.
#[courier::actor]
pub trait Member {
    /// A line from the room.
    #[tell]
    async fn hear(&mut self, line: String);
}

/// What the room refuses.
#[derive(Debug, Clone, PartialEq, Eq, courier::Message)]
pub enum ChatError {
    /// Somebody in the room already has this name.
    NameTaken(String),
    /// Only members may speak.
    NotAMember(String),
}

impl std::fmt::Display for ChatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChatError::NameTaken(name) => write!(f, "the name {name} is taken"),
            ChatError::NotAMember(name) => write!(f, "{name} has not joined"),
        }
    }
}

impl std::error::Error for ChatError {}
