// A trait item that is not a method.

#[courier::actor]
pub trait Counter {
    const START: u64;
    async fn add(&mut self, n: u64) -> u64;
}

fn main() {}
