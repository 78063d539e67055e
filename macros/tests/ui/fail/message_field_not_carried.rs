// A field whose type cannot be carried: one error under that field, naming
// its type and what to derive, however many fields share the type.

pub struct Point {
    pub x: i32,
    pub y: i32,
}

#[derive(courier::Message)]
pub struct Stroke {
    pub from: Point,
    pub to: Point,
    pub width: u8,
}

fn main() {}
