//! The arguments of `#[actor(...)]`.

use proc_macro2::TokenStream;
use syn::parse::Parser;

use crate::errors::Errors;

/// What `#[actor(...)]` was asked for.
pub(crate) struct Options {
    /// `local`: no rkyv derives, for services that pass values which cannot
    /// cross the wire.
    pub(crate) local: bool,
    /// `crate = path`: where the `courier` facade is, when renamed.
    pub(crate) krate: syn::Path,
}

impl Options {
    /// Reads the arguments; a mistake is reported and the argument left at
    /// its default, so the service still expands.
    pub(crate) fn parse(args: TokenStream, errors: &mut Errors) -> Options {
        let mut options = Options { local: false, krate: syn::parse_quote!(::courier) };
        let (mut local, mut krate) = (false, false);
        let parser = syn::meta::parser(|meta| {
            let seen = if meta.path.is_ident("local") {
                options.local = true;
                &mut local
            } else if meta.path.is_ident("crate") {
                options.krate = meta.value()?.parse().map_err(|error| {
                    syn::Error::new(
                        error.span(),
                        "`crate = ..` takes the path of the courier facade: `crate = ::my_courier`",
                    )
                })?;
                &mut krate
            } else {
                let name = match meta.path.get_ident() {
                    Some(ident) => format!("`{ident}`"),
                    None => "this path".to_owned(),
                };
                errors.spanned(
                    &meta.path,
                    format!("unknown `#[actor]` argument {name}; expected `local` or `crate = path`"),
                );
                // Skip a value, if any, and go on to report other arguments.
                if meta.input.peek(syn::Token![=]) {
                    let _: syn::Expr = meta.value()?.parse()?;
                } else if meta.input.peek(syn::token::Paren) {
                    let _: proc_macro2::TokenTree = meta.input.parse()?;
                }
                return Ok(());
            };
            if std::mem::replace(seen, true) {
                errors.spanned(&meta.path, "this `#[actor]` argument is given twice");
            }
            Ok(())
        });
        if let Err(error) = parser.parse2(args) {
            errors.push(error);
        }
        options
    }
}
