//! Methods returning `Result<T, E>`, `()` and nothing, with serializable user
//! types (`#[derive(courier::Message)]`) as arguments and results.

use courier::prelude::*;

/// A user type that can travel in messages.
#[derive(Debug, Clone, PartialEq, courier::Message)]
pub struct Point {
    pub x: i32,
    pub y: i32,
}

/// A user error that can travel in messages.
#[derive(Debug, PartialEq, courier::Message)]
pub enum PlotError {
    OutOfBounds(Point),
    Full,
}

#[courier::actor]
pub trait Plotter {
    async fn plot(&mut self, point: Point) -> Result<usize, PlotError>;
    async fn points(&self) -> Vec<Point>;
    async fn name(&self) -> Result<String, String>;
    async fn clear(&mut self) -> ();
    async fn touch(&mut self);
}

#[derive(Default)]
struct Canvas {
    points: Vec<Point>,
}

impl Actor for Canvas {}

impl Plotter for Canvas {
    async fn plot(&mut self, point: Point) -> Result<usize, PlotError> {
        if point.x < 0 || point.y < 0 {
            return Err(PlotError::OutOfBounds(point));
        }
        if self.points.len() == 2 {
            return Err(PlotError::Full);
        }
        self.points.push(point);
        Ok(self.points.len())
    }
    async fn points(&self) -> Vec<Point> {
        self.points.clone()
    }
    async fn name(&self) -> Result<String, String> {
        Ok("canvas".to_owned())
    }
    async fn clear(&mut self) {
        self.points.clear();
    }
    async fn touch(&mut self) {}
}

#[tokio::main]
async fn main() -> Result<(), CallError> {
    let system = System::new();
    let plotter: PlotterRef = system.spawn(Canvas::default()).into();
    assert_eq!(plotter.plot(Point { x: 1, y: 2 }).await?, Ok(1));
    assert_eq!(plotter.plot(Point { x: -1, y: 2 }).await?, Err(PlotError::OutOfBounds(Point { x: -1, y: 2 })));
    assert_eq!(plotter.plot(Point { x: 3, y: 4 }).await?, Ok(2));
    assert_eq!(plotter.plot(Point { x: 5, y: 6 }).await?, Err(PlotError::Full));
    assert_eq!(plotter.points().await?.len(), 2);
    assert_eq!(plotter.name().await?, Ok("canvas".to_owned()));
    plotter.clear().await?;
    plotter.touch().await?;
    assert!(plotter.points().await?.is_empty());
    system.shutdown().await;
    Ok(())
}
