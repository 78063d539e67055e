//! The `#[courier(...)]` attributes read by the derives.
//!
//! Both derives take their options from one helper attribute, `courier`,
//! rather than `actor` or `message`: a helper named `actor` would be
//! ambiguous beside the `#[actor]` attribute macro that the prelude imports.

use syn::meta::ParseNestedMeta;

use crate::errors::Errors;

/// Calls `read` for each `key` or `key = value` of every `#[courier(...)]`
/// among `attrs`, with the errors so far. `read` returns `Ok(false)` for a key it does not know,
/// which is reported with the list of `expected` keys; a key given twice is
/// reported too. Every mistake is reported, none stops the reading.
pub(crate) fn read_options(
    attrs: &[syn::Attribute],
    expected: &str,
    errors: &mut Errors,
    mut read: impl FnMut(&ParseNestedMeta<'_>, &mut Errors) -> syn::Result<bool>,
) {
    let mut seen: Vec<String> = Vec::new();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("courier")) {
        let result = attr.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map(ToString::to_string);
            if !read(&meta, errors)? {
                let name = key.as_deref().map_or_else(|| "this path".to_owned(), |key| format!("`{key}`"));
                errors.spanned(&meta.path, format!("unknown `#[courier]` option {name}; expected {expected}"));
                return skip_value(&meta);
            }
            if let Some(key) = key {
                if seen.contains(&key) {
                    errors.spanned(&meta.path, format!("`{key}` is given twice"));
                }
                seen.push(key);
            }
            Ok(())
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
}

/// Reads past the value of an option that was not understood, so the ones
/// after it are still read.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _: proc_macro2::TokenTree = meta.input.parse()?;
    }
    Ok(())
}

/// Reads `crate = path`, the facade's path when it is renamed.
pub(crate) fn crate_path(meta: &ParseNestedMeta<'_>) -> syn::Result<syn::Path> {
    meta.value()?.parse().map_err(|error| {
        syn::Error::new(error.span(), "`crate = ..` takes the path of the courier facade: `crate = ::my_courier`")
    })
}
