// `#[tell]` on a method that returns a value: one-way methods return `()`.

#[courier::actor]
pub trait Counter {
    #[tell]
    async fn add(&mut self, n: u64) -> u64;
}

fn main() {}
