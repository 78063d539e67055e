//! Writes the generated items, one function per item, in the order they
//! appear in `cargo expand`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::model::{Method, Service};
use crate::names;

pub(crate) fn expand(service: &Service) -> TokenStream {
    let items = [
        service_trait(service),
        request_enum(service),
        response_enum(service),
        service_ref(service),
        protocol_impl(service),
        dispatch_impl(service),
    ];
    quote!(#(#items)*)
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

/// The trait as the user wrote it, each `async fn` turned into a `fn`
/// returning a `Send` future, so implementers still write `async fn` and
/// the runtime can run their futures on any thread, unboxed.
fn service_trait(service: &Service) -> TokenStream {
    let Service { vis, ident, attrs, supertraits, .. } = service;
    let colon = (!supertraits.is_empty()).then(|| quote!(:));
    let methods = service.methods.iter().map(|method| {
        let Method { attrs, ident, args, output, .. } = method;
        let receiver = if method.mutable { quote!(&mut self) } else { quote!(&self) };
        let args = args.iter().map(|(name, ty)| quote!(#name: #ty));
        let future = quote_spanned! {output.span()=>
            impl ::core::future::Future<Output = #output> + ::core::marker::Send
        };
        let body = match &method.default {
            Some(block) => quote!({ async move #block }),
            None => quote!(;),
        };
        quote! {
            #(#attrs)*
            fn #ident(#receiver, #(#args),*) -> #future #body
        }
    });
    quote! {
        #(#attrs)*
        #vis trait #ident #colon #supertraits {
            #(#methods)*
        }
    }
}

fn request_enum(service: &Service) -> TokenStream {
    let Service { vis, ident, .. } = service;
    let request = names::suffixed(ident, "Request");
    let derives = wire_derives(service);
    let doc = format!("A request to a [`{ident}`] actor: one variant per method, holding its arguments.");
    let variants = service.methods.iter().map(|method| {
        let Method { variant, ident: method_ident, args, .. } = method;
        // Tuple variants: rkyv's derived resolver would leave named fields
        // undocumented, tripping `missing_docs` in the user's crate.
        let names: Vec<String> = args.iter().map(|(name, _)| format!("`{name}`")).collect();
        let doc = match names.len() {
            0 => format!("Calls [`{ident}::{method_ident}`]."),
            _ => format!("Calls [`{ident}::{method_ident}`] with its arguments ({}).", names.join(", ")),
        };
        let types = args.iter().map(|(_, ty)| ty);
        if args.is_empty() {
            quote!(#[doc = #doc] #variant)
        } else {
            quote!(#[doc = #doc] #variant(#(#types),*))
        }
    });
    quote! {
        #[doc = #doc]
        #derives
        #vis enum #request {
            #(#variants,)*
        }
    }
}

fn response_enum(service: &Service) -> TokenStream {
    let Service { vis, ident, .. } = service;
    let response = names::suffixed(ident, "Response");
    let derives = wire_derives(service);
    let doc = format!("A response from a [`{ident}`] actor: one variant per method, holding its result.");
    let variants = service.methods.iter().map(|Method { variant, ident: method_ident, output, .. }| {
        let doc = format!("The result of [`{ident}::{method_ident}`].");
        quote!(#[doc = #doc] #variant(#output))
    });
    quote! {
        #[doc = #doc]
        #derives
        #vis enum #response {
            #(#variants,)*
        }
    }
}

fn service_ref(service: &Service) -> TokenStream {
    let Service { vis, ident, options, .. } = service;
    let krate = &options.krate;
    let (request, response, reference) =
        (names::suffixed(ident, "Request"), names::suffixed(ident, "Response"), names::suffixed(ident, "Ref"));
    let derives = wire_derives(service);
    let doc = format!(
        "A ref to an actor that implements [`{ident}`]: await its methods like local async functions.\n\n\
         Cheap to clone, and {}.",
        if options.local { "local to this process (the service is `local`)" } else { "serializable: it can travel inside a message" }
    );
    let recipient = names::private("recipient");
    let field_doc = format!("The recipient of [`{ident}`] requests this ref sends through.");
    let archived_field_doc = (!options.local).then(|| quote!(#[rkyv(attr(doc = #field_doc))]));
    let methods = service.methods.iter().map(|method| {
        let Method { ident: method_ident, variant, args, output, .. } = method;
        let docs = method.docs();
        let params = args.iter().map(|(name, ty)| quote!(#name: #ty));
        let fields = args.iter().map(|(name, _)| name);
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

        impl<A: #ident + #krate::Actor> ::core::convert::From<#krate::ActorRef<A>> for #reference {
            fn from(actor: #krate::ActorRef<A>) -> Self {
                #reference { #recipient: actor.recipient() }
            }
        }
    }
}

fn protocol_impl(service: &Service) -> TokenStream {
    let Service { ident, options, .. } = service;
    let krate = &options.krate;
    let (request, response) = (names::suffixed(ident, "Request"), names::suffixed(ident, "Response"));
    let service_name = ident.to_string();
    let consts = service.methods.iter().map(|Method { ident: method_ident, .. }| {
        let constant = names::constant(method_ident);
        let doc = format!("The stable id of [`{ident}::{method_ident}`].");
        let name = method_ident.to_string();
        quote! {
            #[doc = #doc]
            pub const #constant: u32 = #krate::method_id(#service_name, #name);
        }
    });
    let signatures = service.methods.iter().map(signature);
    let arms = service.methods.iter().map(|Method { ident: method_ident, variant, args, tell, .. }| {
        let constant = names::constant(method_ident);
        let name = method_ident.to_string();
        let pattern = if args.is_empty() { quote!(Self::#variant) } else { quote!(Self::#variant(..)) };
        quote!(#pattern => #krate::Method { name: #name, id: Self::#constant, tell: #tell },)
    });
    let method_body = if service.methods.is_empty() { quote!(match *self {}) } else { quote!(match self { #(#arms)* }) };
    quote! {
        impl #request {
            #(#consts)*
        }

        impl #krate::Protocol for #request {
            type Response = #response;
            const SERVICE: &'static str = #service_name;
            const FINGERPRINT: u64 = #krate::fingerprint(#service_name, &[#(#signatures),*]);

            fn method(&self) -> #krate::Method {
                #method_body
            }
        }
    }
}

/// A method's signature as text, for the fingerprint: `add(n: u64) -> u64`.
fn signature(method: &Method) -> String {
    let args: Vec<String> = method.args.iter().map(|(name, ty)| format!("{name}: {}", quote!(#ty))).collect();
    let receiver = if method.mutable { "&mut self" } else { "&self" };
    let tell = if method.tell { "#[tell] " } else { "" };
    let output = &method.output;
    let mut text = format!("{tell}{}({receiver}", method.ident);
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
        let fields: Vec<_> = args.iter().map(|(name, _)| name).collect();
        let pattern = if args.is_empty() { quote!(Self::#variant) } else { quote!(Self::#variant(#(#fields),*)) };
        quote!(#pattern => #response::#variant(#actor.#method_ident(#(#fields),*).await),)
    });
    let generic = format_ident!("A");
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
