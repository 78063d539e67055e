// A generic type that derives `Message` is carried when its arguments are:
// `Page<Point>` is not, and the error is at the service's use of it.

pub struct Point {
    pub x: i32,
}

#[derive(courier::Message)]
pub struct Page<T> {
    pub items: Vec<T>,
}

#[courier::actor]
pub trait Plotter {
    async fn plot(&mut self, page: Page<Point>) -> usize;
}

fn main() {}
