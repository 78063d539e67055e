// Values `#[derive(Actor)]` cannot take: each its own error.

#[derive(courier::Actor)]
#[courier(mailbox = 0)]
struct Empty;

#[derive(courier::Actor)]
#[courier(mailbox = "large")]
struct Large;

#[derive(courier::Actor)]
#[courier(name = room)]
struct Room;

#[derive(courier::Actor)]
#[courier(name = "", mailbox = unbounded, mailbox = 4)]
struct Twice;

fn main() {}
