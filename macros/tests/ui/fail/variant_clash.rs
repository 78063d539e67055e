// Two methods that would become one request variant.

#[courier::actor]
#[allow(non_snake_case)]
pub trait Counter {
    async fn get_count(&self) -> u64;
    async fn getCount(&self) -> u64;
}

fn main() {}
