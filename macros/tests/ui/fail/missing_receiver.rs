// A method without `&self` or `&mut self`.

#[courier::actor]
pub trait Counter {
    async fn add(n: u64) -> u64;
}

fn main() {}
