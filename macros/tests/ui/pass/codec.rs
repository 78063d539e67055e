//! A service that is not `local` gets a codec: requests and responses to
//! bytes and back, refs and user types included; bytes that are not a valid
//! archive are a `CallError::Protocol`. A `local` service has none.

use courier::prelude::*;
use courier::{Codec, Protocol};

#[derive(Message, Debug, Clone, PartialEq)]
pub struct Point {
    pub x: i32,
    pub y: i32,
}

#[courier::actor]
pub trait Plotter {
    async fn plot(&mut self, point: Point, owner: Option<PlotterRef>) -> Result<usize, String>;
    #[tell]
    async fn clear(&mut self);
}

#[courier::actor(local)]
pub trait Local {
    async fn take(&mut self, to: std::sync::mpsc::Sender<u8>);
}

struct Canvas;

impl Actor for Canvas {}

impl Plotter for Canvas {
    async fn plot(&mut self, _: Point, _: Option<PlotterRef>) -> Result<usize, String> {
        Ok(1)
    }
    async fn clear(&mut self) {}
}

#[tokio::main]
async fn main() {
    let codec: Codec<PlotterRequest> = PlotterRequest::CODEC.expect("a codec");
    assert!(<LocalRequest as Protocol>::CODEC.is_none());

    let system = System::new();
    let owner: PlotterRef = system.spawn(Canvas).into();
    let request = PlotterRequest::Plot(Point { x: 1, y: 2 }, Some(owner.clone()));
    let bytes = codec.request_bytes(&request).expect("encoded");
    match (codec.decode_request)(&bytes).expect("decoded") {
        PlotterRequest::Plot(point, Some(back)) => {
            assert_eq!(point, Point { x: 1, y: 2 });
            assert_eq!(back, owner);
            assert_eq!(back.plot(point, None).await, Ok(Ok(1)), "the ref read back is callable");
        }
        _ => panic!("another request"),
    }

    let response = PlotterResponse::Plot(Err("full".to_owned()));
    let bytes = codec.response_bytes(&response).expect("encoded");
    assert!(matches!((codec.decode_response)(&bytes), Ok(PlotterResponse::Plot(Err(error))) if error == "full"));

    match (codec.decode_request)(&[0xff; 32]) {
        Err(CallError::Protocol { detail }) => assert!(detail.contains("PlotterRequest"), "{detail}"),
        _ => panic!("garbage was accepted"),
    }
    system.shutdown().await;
}
