//! Procedural macros of courier. Use them through the `courier` facade:
//! `#[courier::actor]`.
//!
//! The macro works in three steps, each in its own module: `attr` reads the
//! macro's arguments, `model` reads the trait into a checked model that
//! keeps the user's spans (collecting every error, not just the first), and
//! `expand` writes the generated items.
//!
//! A mistake never throws the user's trait away: the macro still emits it
//! (and whatever it can generate) beside the errors, so one mistake gives one
//! error rather than a cascade of "cannot find trait" errors at every use.

use proc_macro::TokenStream;
use quote::quote;
use syn::spanned::Spanned;

mod attr;
mod errors;
mod expand;
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
///   every argument and result type must be serializable with rkyv 0.8
///   (`Archive`, `Serialize`, `Deserialize`), and a type that is not gets one
///   error, at the type, saying so.
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
