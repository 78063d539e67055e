//! The arguments of `#[actor(...)]`.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::spanned::Spanned;

/// What `#[actor(...)]` was asked for.
pub(crate) struct Options {
    /// `local`: no rkyv derives, for services that pass values which cannot
    /// cross the wire.
    pub(crate) local: bool,
    /// `crate = path`: where the `courier` facade is, when renamed.
    pub(crate) krate: syn::Path,
}

impl Options {
    pub(crate) fn parse(args: TokenStream) -> syn::Result<Options> {
        let mut options = Options { local: false, krate: syn::parse_quote!(::courier) };
        let mut errors: Option<syn::Error> = None;
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("local") {
                options.local = true;
                Ok(())
            } else if meta.path.is_ident("crate") {
                options.krate = meta.value()?.parse()?;
                Ok(())
            } else {
                let name = meta.path.get_ident().map_or_else(|| "this path".to_owned(), |i| format!("`{i}`"));
                let error = syn::Error::new(
                    meta.path.span(),
                    format!("unknown `#[actor]` argument {name}; expected `local` or `crate = path`"),
                );
                match &mut errors {
                    Some(errors) => errors.combine(error),
                    None => errors = Some(error),
                }
                // Skip a value, if any, and go on to report other arguments.
                if meta.input.peek(syn::Token![=]) {
                    let _: syn::Expr = meta.value()?.parse()?;
                }
                Ok(())
            }
        });
        parser.parse2(args)?;
        match errors {
            Some(errors) => Err(errors),
            None => Ok(options),
        }
    }
}
