// An enum without variants has no value to send.

#[derive(courier::Message)]
pub enum Never {}

fn main() {}
