// A service with no methods has no messages to send.

#[courier::actor]
pub trait Nothing {}

fn main() {}
