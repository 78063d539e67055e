//! The generated code names everything by absolute path: a service compiles
//! with no `use` of courier at all, and a local one even in a module without
//! the standard prelude. (rkyv's derives name `Sized` unqualified, so a
//! serializable service needs the standard prelude.)

mod remote {
    #[courier::actor]
    pub trait Counter {
        async fn add(&mut self, n: u64) -> u64;
        async fn name(&self) -> String;
        async fn check(&self, n: Option<u64>) -> Result<(), String>;
        #[tell]
        async fn reset(&mut self);
        async fn twice(&mut self, n: u64) -> u64 {
            self.add(n).await;
            self.add(n).await
        }
    }
}

mod local {
    #![no_implicit_prelude]

    #[::courier::actor(local)]
    pub trait Counter {
        async fn add(&mut self, n: u64) -> u64;
        async fn to(&self, to: ::std::sync::mpsc::Sender<u8>) -> ::std::option::Option<u8>;
        async fn twice(&mut self, n: u64) -> u64 {
            self.add(n).await;
            self.add(n).await
        }
        #[tell]
        async fn reset(&mut self);
    }
}

struct Both(u64);

impl courier::Actor for Both {}

impl remote::Counter for Both {
    async fn add(&mut self, n: u64) -> u64 {
        self.0 += n;
        self.0
    }
    async fn name(&self) -> String {
        "both".to_owned()
    }
    async fn check(&self, n: Option<u64>) -> Result<(), String> {
        n.map(drop).ok_or_else(|| "none".to_owned())
    }
    async fn reset(&mut self) {
        self.0 = 0;
    }
}

impl local::Counter for Both {
    async fn add(&mut self, n: u64) -> u64 {
        self.0 += n;
        self.0
    }
    async fn to(&self, to: std::sync::mpsc::Sender<u8>) -> Option<u8> {
        to.send(1).ok().map(|()| 1)
    }
    async fn reset(&mut self) {
        self.0 = 0;
    }
}

#[tokio::main]
async fn main() -> Result<(), courier::CallError> {
    let system = courier::System::new();
    let actor = system.spawn(Both(0));
    let remote = remote::CounterRef::from(actor.clone());
    let local = local::CounterRef::from(actor);
    assert_eq!(remote.twice(2).await?, 4);
    assert_eq!(local.twice(1).await?, 6);
    assert_eq!(remote.check(None).await?, Err("none".to_owned()));
    local.reset().await?;
    assert_eq!(remote.name().await?, "both");
    system.shutdown().await;
    Ok(())
}
