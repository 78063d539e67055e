// An actor owns its state: a borrowed one is refused at its lifetime.

#[derive(courier::Actor)]
struct Reader<'a> {
    text: &'a str,
}

fn main() {}
