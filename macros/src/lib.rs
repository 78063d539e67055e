//! Procedural macros of courier. Use them through the `courier` facade:
//! `#[courier::actor]`, `#[derive(courier::Message)]` and
//! `#[derive(courier::Actor)]`.
//!
//! `#[actor]` works in three steps, each in its own module: `attr` reads the
//! macro's arguments, `model` reads the trait into a checked model that
//! keeps the user's spans (collecting every error, not just the first), and
//! `expand` writes the generated items.
//!
//! A mistake never throws the user's trait away: the macro still emits it
//! (and whatever it can generate) beside the errors, so one mistake gives one
//! error rather than a cascade of "cannot find trait" errors at every use.
//!
//! The derives live in `message` and `actor_settings`; both read their
//! options from `#[courier(...)]` (`helper`).

use proc_macro::TokenStream;
use quote::quote;
use syn::spanned::Spanned;

mod actor_settings;
mod attr;
mod errors;
mod expand;
mod helper;
mod message;
mod model;
mod names;

/// Turns a service trait into an actor protocol: a request and a response
/// enum, a typed `{Trait}Ref`, and the dispatch from requests to the trait's
/// methods.
///
/// ```
/// use courier::prelude::*;
///
/// /// A counter.
/// #[courier::actor]
/// pub trait Counter {
///     /// Adds `n` and returns the new total.
///     async fn add(&mut self, n: u64) -> u64;
///     /// Sets the total back to zero, one-way.
///     #[tell]
///     async fn reset(&mut self);
/// }
///
/// // What it generates, checked by the compiler:
/// // the trait, each `async fn` returning a `Send` future,
/// fn add_one<C: Counter>(counter: &mut C) -> impl Future<Output = u64> + Send + '_ {
///     counter.add(1)
/// }
/// // a request and a response enum, one variant per method,
/// let _ = [CounterRequest::Add(2), CounterRequest::Reset];
/// let _ = [CounterResponse::Add(2), CounterResponse::Reset(())];
/// // the ref, whose methods build requests and await the matching response,
/// let _: for<'r> fn(&'r CounterRef, u64) -> courier::Call<'r, CounterRequest, u64> = CounterRef::add;
/// let _: for<'r> fn(&'r CounterRef) -> courier::Tell<'r, CounterRequest> = CounterRef::reset;
/// // and the protocol, with a stable id per method.
/// let _: u32 = CounterRequest::ADD_ID;
/// assert_eq!(<CounterRequest as courier::Protocol>::SERVICE, "Counter");
/// // Every `A: Counter + Actor` converts into a `CounterRef`.
/// fn to_ref<A: Counter + Actor>(actor: ActorRef<A>) -> CounterRef {
///     actor.into()
/// }
/// ```
///
/// # The trait
///
/// - Every method is an `async fn` taking `&self` or `&mut self`, then owned
///   arguments (no references or borrowed lifetimes), and returns an owned
///   type. A call resolves to that type; a handler's `Result` stays apart
///   from delivery errors.
/// - `#[tell]` marks a one-way method, which returns `()`: its ref method
///   resolves once the message is queued.
/// - A method may have a default body. The body's future holds the receiver,
///   so a default body on a `&self` method makes the trait require `Sync`,
///   and one on a `&mut self` method `Send`.
/// - Generic traits and methods, `where` clauses, `#[cfg]` on methods and
///   items other than methods are not supported yet.
///
/// # Arguments
///
/// - `#[actor(local)]`: the service never leaves the process. Without it,
///   every argument and result type must be serializable: standard types,
///   service refs, and types that `#[derive(courier::Message)]` (or implement
///   rkyv 0.8's `Archive`, `Serialize` and `Deserialize`). A type that is not
///   gets one error, at the type, saying so.
/// - `#[actor(crate = path)]`: the path of the `courier` facade, when it is
///   renamed (`crate = ::my_courier`). The generated code names nothing else.
///
/// The generated items carry docs of their own, so a crate under
/// `#![deny(missing_docs)]` needs docs only on the trait and its methods.
#[proc_macro_attribute]
pub fn actor(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut errors = errors::Errors::default();
    let options = attr::Options::parse(args.into(), &mut errors);
    let item = match syn::parse::<syn::Item>(input.clone()) {
        Ok(syn::Item::Trait(item)) => item,
        Ok(other) => {
            errors.push(not_a_trait(&other));
            return quote!(#other #errors).into();
        }
        Err(error) => {
            errors.push(error);
            let input = proc_macro2::TokenStream::from(input);
            return quote!(#input #errors).into();
        }
    };
    let generated = match model::read(item, options, &mut errors) {
        Ok(service) => expand::expand(&service, !errors.is_empty()),
        Err(item) => expand::fallback(*item),
    };
    quote!(#generated #errors).into()
}

/// Lets calls carry a type of yours: derives rkyv's `Archive`, `Serialize`
/// and `Deserialize` through courier, so your crate needs no rkyv
/// dependency of its own.
///
/// Named for where the type goes: into the messages between actors, as an
/// argument or a result of a service method, in process or to another
/// node. The messages themselves (`{Trait}Request`, `{Trait}Response`) are
/// generated by `#[courier::actor]`.
///
/// ```
/// use std::collections::HashMap;
///
/// /// A point on a board.
/// #[derive(courier::Message, Debug, Clone, PartialEq)]
/// pub struct Point {
///     pub x: i32,
///     pub y: i32,
/// }
///
/// /// A move, or giving up.
/// #[derive(courier::Message, Debug)]
/// pub enum Move {
///     Place { at: Point, note: Option<String> },
///     Resign,
/// }
///
/// /// A page of anything that can be carried, and a link to the next one.
/// #[derive(courier::Message, Debug)]
/// pub struct Page<T> {
///     pub items: Vec<T>,
///     pub totals: HashMap<String, u64>,
///     pub next: Option<Box<Self>>,
/// }
/// ```
///
/// Structs and enums are supported, generic ones included (each parameter
/// must be carried in turn, which is checked where the type is used), and
/// so are fields of the standard types rkyv knows (`String`, `Vec`,
/// `Option`, `Box`, `HashMap`, tuples, ...), of other `Message` types, and
/// of service refs (`{Trait}Ref`). Unions are not: their bytes cannot be
/// checked.
///
/// # Options
///
/// - `#[courier(crate = path)]` on the type: the path of the `courier`
///   facade, when it is renamed.
/// - `#[courier(recursive)]` on a field: the field holds, through a `Box` or
///   `Vec`, a type that holds this one (`A` holds `Vec<B>`, `B` holds
///   `Option<Box<A>>`). A field that names the type itself is found
///   without it.
///
/// A field whose type cannot be carried is one compile error, under that
/// field, naming its type.
#[proc_macro_derive(Message, attributes(courier))]
pub fn derive_message(input: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(input) {
        Ok(input) => message::derive(input).into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// Implements `Actor` with every hook at its default, its settings taken
/// from `#[courier(...)]`.
///
/// ```
/// use courier::prelude::*;
///
/// /// A chat room: a small mailbox, and a name in logs and deadlock chains.
/// #[derive(Actor, Default)]
/// #[courier(mailbox = 16, name = "room")]
/// struct Room {
///     members: Vec<String>,
/// }
///
/// /// An audit log that never makes its writers wait.
/// #[derive(Actor)]
/// #[courier(mailbox = unbounded)]
/// struct Audit;
///
/// assert_eq!(Room::MAILBOX, courier::MailboxSize::Bounded(16));
/// assert_eq!(Room::name(), "room");
/// assert_eq!(Audit::MAILBOX, courier::MailboxSize::Unbounded);
/// assert_eq!(Audit::name(), "Audit");
/// ```
///
/// # Options
///
/// - `mailbox = N`: at most `N` queued messages (at least one), after which
///   senders wait; `mailbox = unbounded`: senders never wait. Without it,
///   the system's default capacity.
/// - `name = "room"`: how the actor type is shown in logs, dead letters and
///   deadlock chains; the type's name without it.
/// - `crate = path`: the path of the `courier` facade, when it is renamed.
///
/// An actor that needs lifecycle hooks (`started`, `stopping`, `stopped`)
/// implements `Actor` by hand instead, and sets the same things there:
/// `const MAILBOX: MailboxSize = MailboxSize::Bounded(16);` and
/// `fn name() -> &'static str { "room" }`.
#[proc_macro_derive(Actor, attributes(courier))]
pub fn derive_actor(input: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(input) {
        Ok(input) => actor_settings::derive(input).into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// The error for `#[actor]` on something other than a trait, at its keyword.
fn not_a_trait(item: &syn::Item) -> syn::Error {
    let span = match item {
        syn::Item::Struct(item) => item.struct_token.span,
        syn::Item::Enum(item) => item.enum_token.span,
        syn::Item::Union(item) => item.union_token.span,
        syn::Item::Fn(item) => item.sig.fn_token.span,
        syn::Item::Impl(item) => item.impl_token.span,
        syn::Item::Mod(item) => item.mod_token.span,
        syn::Item::Type(item) => item.type_token.span,
        other => other.span(),
    };
    syn::Error::new(span, "`#[actor]` goes on a service trait: `trait Name { async fn method(&self, ..) -> T; }`")
}
