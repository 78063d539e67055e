//! Call chains, for deadlock detection.
//!
//! Every call made from inside a handler carries the chain of actors that are
//! waiting on it: the caller, the caller's caller, and so on. A call whose
//! target is already in its chain can never be answered (the target is
//! waiting, one or more hops up, for this very call), so it fails at once.

use std::sync::Arc;

use crate::{ActorId, CallChain};

/// One waiting actor, linked to the chain it was called from.
#[derive(Debug)]
pub(crate) struct ChainLink {
    pub(crate) id: ActorId,
    pub(crate) label: Label,
    pub(crate) parent: Option<Arc<ChainLink>>,
}

/// How an actor is shown in a deadlock chain: its name when it has one,
/// otherwise its type and sequence number.
#[derive(Debug, Clone)]
pub(crate) struct Label {
    pub(crate) ty: &'static str,
    pub(crate) name: Option<Arc<str>>,
}

impl Label {
    pub(crate) fn show(&self, id: ActorId) -> String {
        match &self.name {
            Some(name) => name.to_string(),
            None => format!("{}#{}", self.ty, id.seq),
        }
    }
}

/// The last path segment of a type name, without generics' paths.
pub(crate) fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

impl ChainLink {
    /// The cycle a call from this link to `target` would close, if any:
    /// `target -> .. -> self -> target`.
    pub(crate) fn cycle_to(&self, target: ActorId) -> Option<CallChain> {
        let mut path = Vec::new();
        let mut link = Some(self);
        while let Some(l) = link {
            path.push(l.label.show(l.id));
            if l.id == target {
                path.reverse();
                path.push(l.label.show(l.id));
                return Some(CallChain(path));
            }
            link = l.parent.as_deref();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(seq: u64, parent: Option<Arc<ChainLink>>) -> Arc<ChainLink> {
        let label = Label { ty: "A", name: Some(format!("a{seq}").into()) };
        Arc::new(ChainLink { id: ActorId { node: 1, seq }, label, parent })
    }

    #[test]
    fn finds_the_cycle_in_call_order() {
        let a = link(1, None);
        let b = link(2, Some(a));
        let c = link(3, Some(b));
        let chain = c.cycle_to(ActorId { node: 1, seq: 1 }).expect("a cycle");
        assert_eq!(chain.to_string(), "a1 -> a2 -> a3 -> a1");
        assert!(c.cycle_to(ActorId { node: 1, seq: 9 }).is_none());
        let self_call = link(4, None).cycle_to(ActorId { node: 1, seq: 4 });
        assert_eq!(self_call.expect("a cycle").to_string(), "a4 -> a4");
        let unnamed = Label { ty: short_type_name::<Vec<String>>(), name: None };
        assert_eq!(unnamed.show(ActorId { node: 1, seq: 7 }), "Vec#7");
    }
}
