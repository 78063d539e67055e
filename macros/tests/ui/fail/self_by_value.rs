// `self` by value: the actor keeps its state between messages.

#[courier::actor]
pub trait Counter {
    async fn add(&mut self, n: u64) -> u64;
    async fn finish(self) -> u64;
}

fn main() {}
