// A result type that holds a type rkyv cannot serialize.

pub struct Point {
    pub x: i32,
}

#[courier::actor]
pub trait Plotter {
    async fn points(&self) -> Vec<Point>;
}

fn main() {}
