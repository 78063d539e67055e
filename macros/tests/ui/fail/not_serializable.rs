// An argument type that rkyv cannot serialize, in a service that is not
// `local`: one error, at the type, naming it and saying how to fix it.

use courier::prelude::*;

pub struct Point {
    pub x: i32,
    pub y: i32,
}

#[courier::actor]
pub trait Plotter {
    async fn plot(&mut self, point: Point) -> usize;
}

struct Canvas(Vec<Point>);

impl Actor for Canvas {}

impl Plotter for Canvas {
    async fn plot(&mut self, point: Point) -> usize {
        self.0.push(point);
        self.0.len()
    }
}

fn main() {
    let system = System::new();
    let plotter: PlotterRef = system.spawn(Canvas(Vec::new())).into();
    drop(plotter.plot(Point { x: 1, y: 2 }));
}
