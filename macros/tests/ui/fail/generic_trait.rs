// A generic service trait: not supported yet. The trait is still emitted, so
// the impl below raises no second error.

#[courier::actor]
pub trait Store<T> {
    async fn put(&mut self, value: T);
}

struct Shelf(Vec<u8>);

impl Store<u8> for Shelf {
    async fn put(&mut self, value: u8) {
        self.0.push(value);
    }
}

fn main() {
    let _ = Shelf(Vec::new());
}
