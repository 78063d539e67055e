// A union cannot be checked when read: one error, at `union`.

#[derive(courier::Message)]
pub union Bits {
    pub int: u32,
    pub float: f32,
}

fn main() {}
