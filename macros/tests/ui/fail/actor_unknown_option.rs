// An option `#[derive(Actor)]` does not know: one error listing the known
// ones, and the actor still spawns (no cascade of "not an actor" errors).

use courier::prelude::*;

#[derive(Actor)]
#[courier(mailbox = 8, restart = "always")]
struct Worker;

fn main() {
    let system = System::new();
    let _ = system.spawn(Worker);
}
