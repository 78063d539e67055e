// Options `#[derive(Message)]` does not know, on the type and on a field:
// one error each, listing what it does know.

#[derive(courier::Message)]
#[courier(rename = "point")]
pub struct Point {
    pub x: i32,
    #[courier(skip)]
    pub y: i32,
}

fn main() {}
