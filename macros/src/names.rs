//! Names of generated items, derived from the user's names.

use proc_macro2::{Ident, Span};
use syn::ext::IdentExt;

/// `get_count` -> `GetCount`, at the method's span.
pub(crate) fn variant(method: &Ident) -> Ident {
    let text = method.to_string();
    let text = text.strip_prefix("r#").unwrap_or(&text);
    let mut out = String::with_capacity(text.len());
    let mut upper = true;
    for c in text.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'M');
    }
    Ident::new(&out, method.span())
}

/// `Counter` + `Ref` -> `CounterRef`, at the trait's span.
pub(crate) fn suffixed(service: &Ident, suffix: &str) -> Ident {
    Ident::new(&format!("{}{suffix}", service.unraw()), service.span())
}

/// The name as text, for ids and fingerprints: `r#type` -> `type`.
pub(crate) fn text(ident: &Ident) -> String {
    ident.unraw().to_string()
}

/// `add` -> `ADD_ID`: the method id constant's name. The `_ID` keeps it apart
/// from the variants, which have no `_`: `a` is the variant `A`.
pub(crate) fn constant(method: &Ident) -> Ident {
    let text = method.to_string();
    let text = text.strip_prefix("r#").unwrap_or(&text);
    Ident::new(&format!("{}_ID", text.to_uppercase()), method.span())
}

/// A local name of the generated code's own, which user names cannot clash with.
pub(crate) fn private(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_are_upper_camel_case() {
        let v = |s: &str| variant(&syn::parse_str::<Ident>(s).expect("an identifier")).to_string();
        assert_eq!(v("add"), "Add");
        assert_eq!(v("get_count"), "GetCount");
        assert_eq!(v("r#type"), "Type");
        assert_eq!(v("_private"), "Private");
        assert_eq!(v("a"), "A");
        assert_eq!(v("x_1"), "X1");
    }

    #[test]
    fn raw_identifiers_lose_their_prefix() {
        let ident = syn::parse_str::<Ident>("r#type").expect("an identifier");
        assert_eq!(suffixed(&ident, "Ref").to_string(), "typeRef");
        assert_eq!(text(&ident), "type");
    }

    #[test]
    fn constants_never_clash_with_variants() {
        let c = |s: &str| constant(&syn::parse_str::<Ident>(s).expect("an identifier")).to_string();
        assert_eq!(c("add"), "ADD_ID");
        assert_eq!(c("get_count"), "GET_COUNT_ID");
        assert_eq!(c("r#type"), "TYPE_ID");
        for method in ["a", "x1", "get", "a_b"] {
            let method = syn::parse_str::<Ident>(method).expect("an identifier");
            assert_ne!(constant(&method), variant(&method));
        }
    }
}
