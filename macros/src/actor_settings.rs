//! `#[derive(Actor)]`: an `Actor` impl whose settings come from
//! `#[courier(mailbox = .., name = ..)]`, every hook left at its default.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;

use crate::errors::Errors;
use crate::helper;

/// The options that set an actor's behaviour; `#[derive(Message)]` on the
/// same type leaves them to this derive.
pub(crate) const ACTOR_OPTIONS: [&str; 2] = ["mailbox", "name"];

/// The mailbox an actor type asked for.
enum Mailbox {
    Bounded(syn::LitInt),
    Unbounded(syn::Ident),
}

/// Expands `#[derive(Actor)]` on `input`.
pub(crate) fn derive(mut input: syn::DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let mut krate: syn::Path = syn::parse_quote!(::courier);
    let (mut mailbox, mut name) = (None, None);
    let expected = "`mailbox = N`, `mailbox = unbounded`, `name = \"..\"` or `crate = path`";
    helper::read_options(&input.attrs, expected, &mut errors, |meta, errors| {
        if meta.path.is_ident("crate") {
            krate = helper::crate_path(meta)?;
        } else if meta.path.is_ident("mailbox") {
            mailbox = read_mailbox(meta.value()?.parse()?, errors);
        } else if meta.path.is_ident("name") {
            let value: syn::LitStr = meta
                .value()?
                .parse()
                .map_err(|error| syn::Error::new(error.span(), "`name = ..` takes a string: `name = \"room\"`"))?;
            if value.value().trim().is_empty() {
                errors.spanned(&value, "an actor's name cannot be empty");
            }
            name = Some(value);
        } else {
            return Ok(false);
        }
        Ok(true)
    });
    let mut lifetimes = input.generics.lifetimes().peekable();
    if lifetimes.peek().is_some() {
        for param in lifetimes {
            errors.spanned(param, "an actor owns its state, so it cannot borrow: remove the lifetime parameter");
        }
        return quote!(#errors);
    }
    // Otherwise a mistaken option is reported beside the impl, so that it is
    // the only error.

    // An actor is moved onto its own task: every type parameter must be too.
    for param in input.generics.type_params_mut() {
        param.bounds.push(syn::parse_quote!(::core::marker::Send));
        param.bounds.push(syn::parse_quote!('static));
    }
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let ident = &input.ident;
    let mailbox = mailbox.map(|mailbox| {
        let size = match mailbox {
            Mailbox::Bounded(n) => quote!(#krate::MailboxSize::Bounded(#n)),
            Mailbox::Unbounded(word) => quote!(#krate::MailboxSize::#word),
        };
        quote!(const MAILBOX: #krate::MailboxSize = #size;)
    });
    let name = name.map(|name| {
        quote! {
            fn name() -> &'static str {
                #name
            }
        }
    });
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::Actor for #ident #ty_generics #where_clause {
            #mailbox
            #name
        }
        #errors
    }
}

/// Reads `mailbox = 64` or `mailbox = unbounded`.
fn read_mailbox(value: syn::Expr, errors: &mut Errors) -> Option<Mailbox> {
    let usage = "`mailbox` takes a capacity (`mailbox = 64`) or `unbounded`";
    match value {
        syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(n), .. }) => match n.base10_parse::<usize>() {
            Ok(0) => errors.spanned(&n, "a mailbox holds at least one message"),
            Ok(_) if n.suffix().is_empty() || n.suffix() == "usize" => {
                return Some(Mailbox::Bounded(syn::LitInt::new(n.base10_digits(), n.span())));
            }
            Ok(_) => errors.spanned(&n, format!("{usage}, without a type suffix")),
            Err(error) => errors.push(error),
        },
        syn::Expr::Path(path) if path.path.is_ident("unbounded") => {
            return Some(Mailbox::Unbounded(syn::Ident::new("Unbounded", path.span())));
        }
        other => errors.spanned(other, usage),
    }
    None
}
