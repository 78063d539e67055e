//! Procedural macros of courier. Use them through the `courier` facade:
//! `#[courier::actor]`.
//!
//! The macro works in three steps, each in its own module: [`attr`] reads the
//! macro's arguments, [`model`] reads the trait into a checked model that
//! keeps the user's spans (collecting every error, not just the first), and
//! [`expand`] writes the generated items.

use proc_macro::TokenStream;

mod attr;
mod expand;
mod model;
mod names;

/// Turns a service trait into an actor protocol: a request and a response
/// enum, a typed `{Trait}Ref`, and the dispatch from requests to the trait's
/// methods.
///
/// See the `courier` crate's documentation for the full story and
/// `#[actor(local)]` / `#[actor(crate = path)]`.
#[proc_macro_attribute]
pub fn actor(args: TokenStream, input: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(input);
    match expand_actor(args.into(), item.clone()) {
        Ok(tokens) => tokens.into(),
        // Keep the user's trait, so one mistake gives one error rather than
        // a cascade of "cannot find trait" errors at every use.
        Err(errors) => {
            let errors = errors.into_compile_error();
            quote::quote!(#item #errors).into()
        }
    }
}

fn expand_actor(args: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> syn::Result<proc_macro2::TokenStream> {
    let options = attr::Options::parse(args)?;
    let item: syn::ItemTrait = syn::parse2(item)?;
    let service = model::Service::from_trait(item, options)?;
    Ok(expand::expand(&service))
}
