// `#[tell]` takes no arguments.

#[courier::actor]
pub trait Counter {
    #[tell(x)]
    async fn reset(&mut self);
}

fn main() {}
