// A borrowed argument: messages outlive the call site.

#[courier::actor]
pub trait Greeter {
    async fn greet(&self, name: &str) -> String;
}

fn main() {}
