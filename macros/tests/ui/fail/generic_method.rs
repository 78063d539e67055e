// A generic method: its message would have no one concrete type.

#[courier::actor]
pub trait Store {
    async fn put<T: Send + 'static>(&mut self, value: T);
}

fn main() {}
