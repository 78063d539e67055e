// `#[actor]` on something other than a trait.

#[courier::actor]
pub struct Counter {
    n: u64,
}

fn main() {
    let _ = Counter { n: 0 }.n;
}
