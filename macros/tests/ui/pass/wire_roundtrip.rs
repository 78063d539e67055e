//! The request and response enums of a service that is not `local` go through
//! rkyv and back, checked on the way in, user types included.

use courier::__private::rkyv;
use rkyv::rancor::Error;

#[derive(Debug, Clone, PartialEq, courier::Message)]
pub struct Point {
    pub x: i32,
    pub y: i32,
}

#[courier::actor]
pub trait Plotter {
    async fn plot(&mut self, point: Point, label: String) -> Result<usize, String>;
    async fn points(&self) -> Vec<Point>;
    #[tell]
    async fn clear(&mut self);
}

fn main() {
    let bytes = rkyv::to_bytes::<Error>(&PlotterRequest::Plot(Point { x: 1, y: -2 }, "a".to_owned())).expect("bytes");
    let archived = rkyv::access::<ArchivedPlotterRequest, Error>(&bytes).expect("valid bytes");
    assert!(matches!(archived, ArchivedPlotterRequest::Plot(point, label) if point.x == 1 && label == "a"));
    match rkyv::from_bytes::<PlotterRequest, Error>(&bytes).expect("a request") {
        PlotterRequest::Plot(point, label) => assert_eq!((point, label.as_str()), (Point { x: 1, y: -2 }, "a")),
        _ => panic!("another variant"),
    }

    let bytes = rkyv::to_bytes::<Error>(&PlotterRequest::Clear).expect("bytes");
    assert!(matches!(rkyv::from_bytes::<PlotterRequest, Error>(&bytes), Ok(PlotterRequest::Clear)));

    let response = PlotterResponse::Points(vec![Point { x: 3, y: 4 }]);
    let bytes = rkyv::to_bytes::<Error>(&response).expect("bytes");
    match rkyv::from_bytes::<PlotterResponse, Error>(&bytes).expect("a response") {
        PlotterResponse::Points(points) => assert_eq!(points, [Point { x: 3, y: 4 }]),
        _ => panic!("another variant"),
    }
    let bytes = rkyv::to_bytes::<Error>(&PlotterResponse::Plot(Err("full".to_owned()))).expect("bytes");
    assert!(matches!(
        rkyv::from_bytes::<PlotterResponse, Error>(&bytes),
        Ok(PlotterResponse::Plot(Err(error))) if error == "full"
    ));
    // Bytes that are not a request are refused, not trusted.
    assert!(rkyv::from_bytes::<PlotterRequest, Error>(&[0xff; 16]).is_err());
}
