//! Writes the generated items, one function per item, in the order they
//! appear in `cargo expand`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::model::{Arg, Method, Service};
use crate::names;

/// Every generated item. `has_errors` says that errors are emitted beside
/// them; the trait then keeps the items set aside as written.
pub(crate) fn expand(service: &Service, has_errors: bool) -> TokenStream {
    if service.methods.is_empty() {
        // Every method has a mistake: no messages to generate.
        return service_trait(service, has_errors);
    }
    let mut fields = Fields::new(service);
    let items = [
        service_trait(service, has_errors),
        request_enum(service, &mut fields),
        response_enum(service, &mut fields),
        fields.checks(),
        service_ref(service),
        protocol_impl(service),
        dispatch_impl(service),
    ];
    quote!(#(#items)*)
}

/// A trait with a mistake in the trait itself: emitted as written, beside the
/// errors, so the user's impls and uses of it raise no more errors.
pub(crate) fn fallback(item: syn::ItemTrait) -> TokenStream {
    quote! {
        #[allow(async_fn_in_trait)]
        #item
    }
}

/// The rkyv derives, unless the service is `local`.
fn wire_derives(service: &Service) -> TokenStream {
    if service.options.local {
        return TokenStream::new();
    }
    let krate = &service.options.krate;
    let rkyv = quote!(#krate::__private::rkyv);
    quote! {
        #[derive(#rkyv::Archive, #rkyv::Serialize, #rkyv::Deserialize)]
        #[rkyv(crate = #rkyv)]
    }
}

/// The fields of the request and response enums, each checked to cross the
/// wire unless the service is `local`.
///
/// A field of type `T` gets `#[rkyv(with = Checked<{ Request::__WIRE_n }>)]`,
/// with `const __WIRE_n: bool = <T as Wire>::WIRE` in a private impl of the
/// request enum, once per distinct type: `Checked` serializes the field as
/// `T` itself does. When `T` cannot be serialized, the const gives one error
/// at the user's type (from `Wire`), and its failure keeps rkyv's derives
/// from repeating it (see the runtime's `wire_check` module). `__WIRE`, the
/// conjunction of the checks, bounds the protocol's codec the same way.
struct Fields<'s> {
    service: &'s Service,
    request: syn::Ident,
    /// Each checked type, as text, with its check.
    checks: Vec<(String, TokenStream)>,
}

impl<'s> Fields<'s> {
    fn new(service: &'s Service) -> Self {
        Fields { service, request: names::suffixed(&service.ident, "Request"), checks: Vec::new() }
    }

    /// A field of type `ty`.
    fn field(&mut self, ty: &syn::Type) -> TokenStream {
        if self.service.options.local {
            return quote!(#ty);
        }
        let krate = &self.service.options.krate;
        let key = quote!(#ty).to_string();
        let index = match self.checks.iter().position(|(seen, _)| *seen == key) {
            Some(index) => index,
            None => {
                let name = format_ident!("__WIRE_{}", self.checks.len());
                let wire = quote_spanned!(ty.span()=> <#ty as #krate::__private::Wire>::WIRE);
                let doc = format!("Compiles only if `{key}` can cross the wire.");
                self.checks.push((key, quote!(#[doc = #doc] const #name: bool = #wire;)));
                self.checks.len() - 1
            }
        };
        let (request, name) = (&self.request, format_ident!("__WIRE_{index}"));
        quote!(#[rkyv(with = #krate::__private::Checked<{ #request::#name }>)] #ty)
    }

    /// The impl that holds the checks, if any.
    fn checks(self) -> TokenStream {
        if self.service.options.local {
            return TokenStream::new();
        }
        let request = self.request;
        let names: Vec<_> = (0..self.checks.len()).map(|index| format_ident!("__WIRE_{index}")).collect();
        let all = if names.is_empty() { quote!(true) } else { quote!(#(Self::#names)&&*) };
        let checks = self.checks.into_iter().map(|(_, check)| check);
        quote! {
            impl #request {
                #(#checks)*
                /// Compiles only if every argument and result type can
                /// cross the wire; the codec is bounded on it.
                const __WIRE: bool = #all;
            }
        }
    }
}

/// The trait as the user wrote it, each `async fn` turned into a `fn`
/// returning a `Send` future, so implementers still write `async fn` and
/// the runtime can run their futures on any thread, unboxed.
fn service_trait(service: &Service, has_errors: bool) -> TokenStream {
    let Service { vis, ident, attrs, supertraits, rejected, .. } = service;
    let mut bounds: Vec<TokenStream> = supertraits.iter().map(|bound| quote!(#bound)).collect();
    // A default body's future holds the receiver across its awaits: for the
    // future to be `Send`, `&self` needs `Self: Sync`, `&mut self` needs
    // `Self: Send`.
    let defaults = service.methods.iter().filter(|method| method.default.is_some());
    let (mut sync, mut send) = (false, false);
    for method in defaults {
        let (needed, bound) = if method.mutable() { (&mut send, quote!(Send)) } else { (&mut sync, quote!(Sync)) };
        if !std::mem::replace(needed, true) {
            let span = Span::call_site().located_at(method.receiver.span());
            bounds.push(quote_spanned!(span=> ::core::marker::#bound));
        }
    }
    let colon = (!bounds.is_empty()).then(|| quote!(:));
    let methods = service.methods.iter().map(|method| {
        let Method { attrs, ident, receiver, args, output, .. } = method;
        let fn_token = &method.written.sig.fn_token;
        let args = args.iter().map(|Arg { pat, ty, .. }| quote!(#pat: #ty));
        // At the return type, for errors about the future, but with the
        // macro's hygiene, so lints on the user's paths leave it alone.
        let span = Span::call_site().located_at(output.span());
        let future = quote_spanned! {span=>
            impl ::core::future::Future<Output = #output> + ::core::marker::Send
        };
        let body = match (&method.default, &method.written.semi_token) {
            (Some(block), _) => braced(&block.brace_token, quote!(async move #block)),
            (None, semi) => {
                let semi = semi.unwrap_or_default();
                quote!(#semi)
            }
        };
        quote! {
            #(#attrs)*
            #fn_token #ident(#receiver, #(#args),*) -> #future #body
        }
    });
    // The items set aside keep their `async fn`, which warns in a public
    // trait; the errors beside them say what to change.
    let allow = has_errors.then(|| quote!(#[allow(async_fn_in_trait)]));
    let body = braced(&service.brace_token, quote!(#(#methods)* #(#rejected)*));
    let trait_token = &service.trait_token;
    quote! {
        #(#attrs)*
        #allow
        #vis #trait_token #ident #colon #(#bounds)+* #body
    }
}

/// `{ inner }` in the user's braces, keeping their span.
fn braced(brace: &syn::token::Brace, inner: TokenStream) -> TokenStream {
    let mut tokens = TokenStream::new();
    brace.surround(&mut tokens, |tokens| tokens.extend(inner));
    tokens
}

fn request_enum(service: &Service, fields: &mut Fields<'_>) -> TokenStream {
    let Service { vis, ident, .. } = service;
    let request = names::suffixed(ident, "Request");
    let derives = wire_derives(service);
    let doc = format!("A request to a [`{ident}`] actor: one variant per method, holding its arguments.");
    let mut variants = Vec::new();
    for Method { variant, ident: method_ident, args, .. } in &service.methods {
        // Tuple variants: rkyv's derived resolver would leave named fields
        // undocumented, tripping `missing_docs` in the user's crate.
        let names: Vec<String> = args.iter().map(|arg| format!("`{}`", arg.ident)).collect();
        let doc = match names.len() {
            0 => format!("Calls [`{ident}::{method_ident}`]."),
            _ => format!("Calls [`{ident}::{method_ident}`] with its arguments ({}).", names.join(", ")),
        };
        let types: Vec<_> = args.iter().map(|arg| fields.field(&arg.ty)).collect();
        variants.push(if args.is_empty() {
            quote!(#[doc = #doc] #variant)
        } else {
            quote!(#[doc = #doc] #variant(#(#types),*))
        });
    }
    quote! {
        #[doc = #doc]
        #derives
        #vis enum #request {
            #(#variants,)*
        }
    }
}

fn response_enum(service: &Service, fields: &mut Fields<'_>) -> TokenStream {
    let Service { vis, ident, .. } = service;
    let response = names::suffixed(ident, "Response");
    let derives = wire_derives(service);
    let doc = format!("A response from a [`{ident}`] actor: one variant per method, holding its result.");
    let mut variants = Vec::new();
    for Method { variant, ident: method_ident, output, .. } in &service.methods {
        let doc = format!("The result of [`{ident}::{method_ident}`].");
        let output = fields.field(output);
        variants.push(quote!(#[doc = #doc] #variant(#output)));
    }
    quote! {
        #[doc = #doc]
        #derives
        #vis enum #response {
            #(#variants,)*
        }
    }
}

/// The actor type parameter of the generated impls: `A`, unless that is the
/// service's own name.
fn actor_generic(service: &Service) -> syn::Ident {
    if service.ident == "A" { format_ident!("Actor") } else { format_ident!("A") }
}

fn service_ref(service: &Service) -> TokenStream {
    let Service { vis, ident, options, .. } = service;
    let generic = actor_generic(service);
    let krate = &options.krate;
    let (request, response, reference) =
        (names::suffixed(ident, "Request"), names::suffixed(ident, "Response"), names::suffixed(ident, "Ref"));
    let derives = wire_derives(service);
    let doc = format!(
        "A ref to an actor that implements [`{ident}`]: await its methods like local async functions.\n\n\
         Cheap to clone, and {}.",
        if options.local {
            "local to this process (the service is `local`)"
        } else {
            "serializable: it can travel inside a message"
        }
    );
    let recipient = names::private("recipient");
    let field_doc = format!("The recipient of [`{ident}`] requests this ref sends through.");
    let archived_field_doc = (!options.local).then(|| quote!(#[rkyv(attr(doc = #field_doc))]));
    let methods = service.methods.iter().map(|method| {
        let Method { ident: method_ident, variant, args, output, .. } = method;
        let docs = method.docs();
        let params = args.iter().map(|Arg { ident, ty, .. }| quote!(#ident: #ty));
        let fields = args.iter().map(|arg| &arg.ident);
        let build = if args.is_empty() { quote!(#request::#variant) } else { quote!(#request::#variant(#(#fields),*)) };
        if method.tell {
            let doc = format!("Sends [`{ident}::{method_ident}`] one-way; resolves once the message is queued.");
            quote! {
                #[doc = #doc]
                #[doc = ""]
                #(#docs)*
                pub fn #method_ident(&self, #(#params),*) -> #krate::Tell<'_, #request> {
                    self.#recipient.tell(#build)
                }
            }
        } else {
            let doc = format!("Calls [`{ident}::{method_ident}`] and resolves to its result.");
            let value = names::private("value");
            let extract = if service.methods.len() == 1 {
                quote!(|#response::#variant(#value)| ::core::option::Option::Some(#value))
            } else {
                quote! {
                    |response| match response {
                        #response::#variant(#value) => ::core::option::Option::Some(#value),
                        _ => ::core::option::Option::None,
                    }
                }
            };
            quote! {
                #[doc = #doc]
                #[doc = ""]
                #(#docs)*
                pub fn #method_ident(&self, #(#params),*) -> #krate::Call<'_, #request, #output> {
                    self.#recipient.call(#build, #extract)
                }
            }
        }
    });
    quote! {
        #[doc = #doc]
        #[derive(::core::clone::Clone, ::core::fmt::Debug, ::core::cmp::PartialEq, ::core::cmp::Eq)]
        #derives
        #vis struct #reference {
            #[doc = #field_doc]
            #archived_field_doc
            #recipient: #krate::Recipient<#request>,
        }

        impl #reference {
            #(#methods)*
        }

        impl #krate::ServiceRef for #reference {
            type Protocol = #request;

            fn recipient(&self) -> &#krate::Recipient<#request> {
                &self.#recipient
            }
        }

        impl ::core::convert::From<#krate::Recipient<#request>> for #reference {
            fn from(#recipient: #krate::Recipient<#request>) -> Self {
                #reference { #recipient }
            }
        }

        impl<#generic: #ident + #krate::Actor> ::core::convert::From<#krate::ActorRef<#generic>> for #reference {
            fn from(actor: #krate::ActorRef<#generic>) -> Self {
                #reference { #recipient: actor.recipient() }
            }
        }
    }
}

fn protocol_impl(service: &Service) -> TokenStream {
    let Service { ident, options, .. } = service;
    let krate = &options.krate;
    let (request, response) = (names::suffixed(ident, "Request"), names::suffixed(ident, "Response"));
    let service_name = names::text(ident);
    let consts = service.methods.iter().map(|Method { ident: method_ident, .. }| {
        let constant = names::constant(method_ident);
        let doc = format!("The stable id of [`{ident}::{method_ident}`].");
        let name = names::text(method_ident);
        quote! {
            #[doc = #doc]
            pub const #constant: u32 = #krate::method_id(#service_name, #name);
        }
    });
    let signatures = service.methods.iter().map(signature);
    let arms = service.methods.iter().map(|Method { ident: method_ident, variant, args, tell, .. }| {
        let constant = names::constant(method_ident);
        let name = names::text(method_ident);
        let pattern = if args.is_empty() { quote!(Self::#variant) } else { quote!(Self::#variant(..)) };
        quote!(#pattern => #krate::Method { name: #name, id: Self::#constant, tell: #tell },)
    });
    let method_body =
        if service.methods.is_empty() { quote!(match *self {}) } else { quote!(match self { #(#arms)* }) };
    // A service that may leave the process says how its messages do.
    let codec = (!options.local).then(|| {
        quote! {
            const CODEC: ::core::option::Option<#krate::Codec<Self>> = ::core::option::Option::Some(#krate::Codec {
                encode_request: #krate::__private::encode::<Self, { #request::__WIRE }>,
                decode_request: #krate::__private::decode::<Self, { #request::__WIRE }>,
                encode_response: #krate::__private::encode::<#response, { #request::__WIRE }>,
                decode_response: #krate::__private::decode::<#response, { #request::__WIRE }>,
            });
        }
    });
    quote! {
        impl #request {
            #(#consts)*
        }

        impl #krate::Protocol for #request {
            type Response = #response;
            const SERVICE: &'static str = #service_name;
            const FINGERPRINT: u64 = #krate::fingerprint(#service_name, &[#(#signatures),*]);
            #codec

            fn method(&self) -> #krate::Method {
                #method_body
            }
        }
    }
}

/// A method's signature as text, for the fingerprint: `add(n: u64) -> u64`.
fn signature(method: &Method) -> String {
    let args: Vec<String> =
        method.args.iter().map(|Arg { ident, ty, .. }| format!("{ident}: {}", quote!(#ty))).collect();
    let receiver = if method.mutable() { "&mut self" } else { "&self" };
    let tell = if method.tell { "#[tell] " } else { "" };
    let output = &method.output;
    let mut text = format!("{tell}{}({receiver}", names::text(&method.ident));
    for arg in args {
        text.push_str(", ");
        text.push_str(&arg);
    }
    text.push_str(&format!(") -> {}", quote!(#output)));
    text
}

fn dispatch_impl(service: &Service) -> TokenStream {
    let Service { ident, options, .. } = service;
    let krate = &options.krate;
    let (request, response) = (names::suffixed(ident, "Request"), names::suffixed(ident, "Response"));
    let actor = names::private("actor");
    let arms = service.methods.iter().map(|Method { ident: method_ident, variant, args, .. }| {
        let fields: Vec<_> = args.iter().map(|arg| &arg.ident).collect();
        let pattern = if args.is_empty() { quote!(Self::#variant) } else { quote!(Self::#variant(#(#fields),*)) };
        quote!(#pattern => #response::#variant(#actor.#method_ident(#(#fields),*).await),)
    });
    let generic = actor_generic(service);
    quote! {
        impl<#generic: #ident + #krate::Actor> #krate::Dispatch<#generic> for #request {
            async fn dispatch(self, #actor: &mut #generic) -> #response {
                match self {
                    #(#arms)*
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::errors::Errors;
    use crate::{attr, model};

    fn expand(args: &str, item: &str) -> String {
        let mut errors = Errors::default();
        let options = attr::Options::parse(args.parse().expect("tokens"), &mut errors);
        let item = syn::parse_str(item).expect("a trait");
        let Ok(service) = model::read(item, options, &mut errors) else { panic!("not a service") };
        assert!(errors.is_empty(), "errors in a valid service");
        super::expand(&service, false).to_string()
    }

    const COUNTER: &str = "pub trait Counter {
        async fn add(&mut self, n: u64) -> u64;
        #[tell]
        async fn reset(&mut self);
        async fn twice(&mut self, n: u64) -> u64 { self.add(n).await }
    }";

    #[test]
    fn a_renamed_facade_is_the_only_path_to_courier() {
        for args in ["crate = ::renamed", "crate = ::renamed, local"] {
            let out = expand(args, COUNTER);
            assert!(!out.contains("courier"), "{out}");
            assert!(out.contains(":: renamed :: Recipient"), "{out}");
        }
    }

    #[test]
    fn a_local_service_derives_nothing_from_rkyv() {
        let out = expand("local", COUNTER);
        assert!(!out.contains("rkyv") && !out.contains("Wire"), "{out}");
        assert!(expand("", COUNTER).contains(":: courier :: __private :: rkyv :: Archive"));
    }

    #[test]
    fn standard_items_are_named_by_absolute_path() {
        let out = expand("", COUNTER);
        for name in ["Option", "Some", "None", "Future", "Send", "Sync", "From", "Clone"] {
            let all = out.matches(&format!(" {name} ")).count();
            let absolute = out.matches(&format!(":: {name} ")).count();
            assert_eq!(all, absolute, "`{name}` without a path in {out}");
        }
    }
}
