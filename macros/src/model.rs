//! The service trait read into a checked model.
//!
//! Every check reports at the user's own tokens and all errors are
//! collected, so one compile shows every mistake in the trait at once. A
//! trait item with a mistake is set aside as the user wrote it (less
//! `#[tell]`) and re-emitted in the trait, so the rest of the service still
//! expands and the user's impls still compile: one mistake, one error.

use syn::visit::Visit;
use syn::{Attribute, FnArg, Ident, ItemTrait, Pat, ReturnType, TraitItem, TraitItemFn, Type, Visibility};

use crate::attr::Options;
use crate::errors::Errors;
use crate::names;

/// A service trait: its name, its methods and the macro's options.
pub(crate) struct Service {
    pub(crate) options: Options,
    pub(crate) vis: Visibility,
    pub(crate) ident: Ident,
    /// `trait` and the braces, as written: the generated trait keeps the
    /// user's spans, for errors and lints about it.
    pub(crate) trait_token: syn::Token![trait],
    pub(crate) brace_token: syn::token::Brace,
    /// The trait's attributes (docs included), re-emitted as written.
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) supertraits: syn::punctuated::Punctuated<syn::TypeParamBound, syn::Token![+]>,
    pub(crate) methods: Vec<Method>,
    /// Items with a mistake, re-emitted in the trait as written (less
    /// `#[tell]`) and left out of the messages.
    pub(crate) rejected: Vec<TraitItem>,
}

/// One service method.
pub(crate) struct Method {
    /// The method's attributes less `#[tell]`.
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) ident: Ident,
    /// The request and response variant: `add` -> `Add`.
    pub(crate) variant: Ident,
    /// `&self` or `&mut self`, as written.
    pub(crate) receiver: syn::Receiver,
    pub(crate) args: Vec<Arg>,
    /// The declared return type; `()` when none is written.
    pub(crate) output: Type,
    pub(crate) tell: bool,
    pub(crate) default: Option<syn::Block>,
    /// The method as written, less `#[tell]`: its tokens keep their spans
    /// in the generated trait, and it is what the trait gets should the
    /// method be set aside after all.
    pub(crate) written: TraitItemFn,
}

/// One argument of a service method.
pub(crate) struct Arg {
    /// The pattern as written (`n` or `mut n`), for the trait's method.
    pub(crate) pat: Pat,
    /// The argument's name, for the message field and the ref's method.
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
}

impl Method {
    /// The doc attributes only, for the generated items that mirror the method.
    pub(crate) fn docs(&self) -> impl Iterator<Item = &Attribute> {
        self.attrs.iter().filter(|a| a.path().is_ident("doc"))
    }

    pub(crate) fn mutable(&self) -> bool {
        self.receiver.mutability.is_some()
    }
}

/// Reads and checks the trait. A mistake in the trait itself (rather than in
/// one of its items) leaves nothing to generate: the trait comes back as
/// written, less `#[tell]`, to be emitted beside the errors.
pub(crate) fn read(mut item: ItemTrait, options: Options, errors: &mut Errors) -> Result<Service, Box<ItemTrait>> {
    let before = errors.len();
    if !item.generics.params.is_empty() {
        errors.spanned(
            &item.generics,
            "generic service traits are not supported yet: a service's messages must have one concrete type",
        );
    }
    if let Some(where_clause) = &item.generics.where_clause {
        errors.spanned(
            where_clause,
            "a `where` clause on a service trait is not supported yet: write supertraits instead (`trait Name: Bound`)",
        );
    }
    if let Some(unsafety) = &item.unsafety {
        errors.at(unsafety.span, "a service trait cannot be `unsafe`");
    }
    if let Some(auto) = &item.auto_token {
        errors.at(auto.span, "a service trait cannot be an auto trait");
    }
    if item.items.is_empty() {
        errors.at(item.brace_token.span.join(), "a service trait needs at least one `async fn` method");
    }
    if errors.len() > before {
        // Nothing to generate, but still check the items to report their
        // mistakes too.
        for trait_item in &item.items {
            let _ = read_item(trait_item.clone(), options.local, errors);
        }
        for trait_item in &mut item.items {
            if let TraitItem::Fn(function) = trait_item {
                strip_tell(function);
            }
        }
        return Err(Box::new(item));
    }
    let mut methods: Vec<Method> = Vec::new();
    let mut rejected = Vec::new();
    for trait_item in item.items {
        match read_item(trait_item, options.local, errors) {
            Ok(method) => methods.push(method),
            Err(item) => rejected.push(*item),
        }
    }
    // Two methods that map to one generated name: keep the first.
    let mut kept: Vec<Method> = Vec::new();
    for method in methods {
        let constant = names::constant(&method.ident);
        let clash = kept.iter().find_map(|first| {
            if first.variant == method.variant {
                Some(format!("the variant `{}`", method.variant))
            } else if names::constant(&first.ident) == constant {
                Some(format!("the method id constant `{constant}`"))
            } else {
                None
            }
            .map(|what| (first, what))
        });
        match clash {
            Some((first, what)) => {
                errors.at(
                    method.ident.span(),
                    format_args!("`{}` and `{}` would both become {what}; rename one", first.ident, method.ident),
                );
                rejected.push(TraitItem::Fn(method.written));
            }
            None => kept.push(method),
        }
    }
    Ok(Service {
        options,
        vis: item.vis,
        ident: item.ident,
        trait_token: item.trait_token,
        brace_token: item.brace_token,
        attrs: item.attrs,
        supertraits: item.supertraits,
        methods: kept,
        rejected,
    })
}

/// A method, or the item as written (less `#[tell]`) when it has a mistake.
fn read_item(item: TraitItem, local: bool, errors: &mut Errors) -> Result<Method, Box<TraitItem>> {
    match item {
        TraitItem::Fn(function) => {
            Method::read(function, local, errors).map_err(|function| Box::new(TraitItem::Fn(*function)))
        }
        other => {
            errors.spanned(&other, "a service trait holds only `async fn` methods; move constants and types elsewhere");
            Err(Box::new(other))
        }
    }
}

fn strip_tell(function: &mut TraitItemFn) {
    function.attrs.retain(|attr| !attr.path().is_ident("tell"));
}

impl Method {
    fn read(mut function: TraitItemFn, local: bool, errors: &mut Errors) -> Result<Method, Box<TraitItemFn>> {
        let before = errors.len();
        // Set for a mistake that rustc reports itself on the method as
        // written: the method is set aside without a second error.
        let mut rustc_reports = false;
        let sig = &function.sig;
        let mut tell = None;
        for attr in &function.attrs {
            if attr.path().is_ident("tell") {
                if !matches!(attr.meta, syn::Meta::Path(_)) {
                    errors.spanned(&attr.meta, "`#[tell]` takes no arguments: write `#[tell]`");
                } else if tell.is_some() {
                    errors.spanned(attr, "`#[tell]` is given twice");
                }
                tell = Some(attr);
            } else if attr.path().is_ident("cfg") || attr.path().is_ident("cfg_attr") {
                errors.spanned(
                    attr,
                    "`#[cfg]` on a service method is not supported yet: every build of a service must have the same methods",
                );
            }
        }
        if sig.asyncness.is_none() {
            errors.at(sig.fn_token.span, "service methods must be `async fn`: write `async fn` here");
        }
        if let Some(constness) = &sig.constness {
            errors.at(constness.span, "a service method cannot be `const`");
        }
        if let Some(unsafety) = &sig.unsafety {
            errors.at(unsafety.span, "a service method cannot be `unsafe`");
        }
        if let Some(abi) = &sig.abi {
            errors.spanned(abi, "a service method cannot have an `extern` ABI");
        }
        if !sig.generics.params.is_empty() {
            errors.spanned(
                &sig.generics,
                "generic methods are not supported yet: each method's message needs one concrete type",
            );
        }
        if let Some(where_clause) = &sig.generics.where_clause {
            errors.spanned(where_clause, "a `where` clause on a service method is not supported yet");
        }
        if let Some(variadic) = &sig.variadic {
            errors.spanned(variadic, "a service method cannot be variadic");
        }
        let receiver = match sig.inputs.first() {
            Some(FnArg::Receiver(receiver)) => {
                // `&'a self` passes here: the lifetime's declaration is the mistake.
                if receiver.colon_token.is_some() || receiver.reference.is_none() {
                    errors.spanned(
                        receiver,
                        "a service method takes `&self` or `&mut self`: the actor keeps its state between messages",
                    );
                }
                Some(receiver.clone())
            }
            first => {
                let message = "a service method takes `&self` or `&mut self` first: it runs on the actor's state";
                match first {
                    Some(first) => errors.spanned(first, message),
                    None => errors.at(sig.paren_token.span.join(), message),
                }
                None
            }
        };
        let mut args = Vec::new();
        for input in &sig.inputs {
            let FnArg::Typed(arg) = input else { continue };
            let ident = match &*arg.pat {
                Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => pat.ident.clone(),
                // rustc rejects patterns in a method without a body.
                _ if function.default.is_none() => {
                    rustc_reports = true;
                    continue;
                }
                other => {
                    errors.spanned(other, "name this argument with a plain identifier (it becomes a message field)");
                    continue;
                }
            };
            if let Type::ImplTrait(_) = &*arg.ty {
                errors.spanned(&arg.ty, "a service method's argument must be a concrete type, not `impl Trait`");
            }
            rustc_reports |= !check_owned(&arg.ty, local, errors);
            args.push(Arg { pat: (*arg.pat).clone(), ident, ty: (*arg.ty).clone() });
        }
        let output: Type = match &sig.output {
            ReturnType::Default => syn::parse_quote!(()),
            ReturnType::Type(_, ty) => {
                if let Type::ImplTrait(_) = &**ty {
                    errors.spanned(ty, "a service method must return a concrete type, not `impl Trait`");
                }
                rustc_reports |= !check_owned(ty, local, errors);
                (**ty).clone()
            }
        };
        if let (Some(_), ReturnType::Type(_, ty)) = (tell, &sig.output) {
            if !is_unit(ty) {
                errors.spanned(
                    ty,
                    "a `#[tell]` method is one-way and cannot return a value: remove the return type or `#[tell]`",
                );
            }
        }
        let tell = tell.is_some();
        strip_tell(&mut function);
        let Some(receiver) = receiver.filter(|_| errors.len() == before && !rustc_reports) else {
            return Err(Box::new(function));
        };
        Ok(Method {
            variant: names::variant(&function.sig.ident),
            ident: function.sig.ident.clone(),
            attrs: function.attrs.clone(),
            receiver,
            args,
            output,
            tell,
            default: function.default.clone(),
            written: function,
        })
    }
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(tuple) if tuple.elems.is_empty())
}

/// Arguments and results move into messages that outlive the call site, so
/// they must own their data: no references (but `&'static` ones in a local
/// service), no borrowed lifetimes, no `Self`. False for a type with `_`,
/// which rustc rejects itself in the method as written.
fn check_owned(ty: &Type, local: bool, errors: &mut Errors) -> bool {
    struct Borrowed<'e> {
        errors: &'e mut Errors,
        local: bool,
        inferred: bool,
    }
    impl<'ast> Visit<'ast> for Borrowed<'_> {
        fn visit_type_reference(&mut self, reference: &'ast syn::TypeReference) {
            let is_static = reference.lifetime.as_ref().is_some_and(|lifetime| lifetime.ident == "static");
            if !(self.local && is_static) {
                self.errors.spanned(
                    reference,
                    "a message cannot hold a reference: take an owned type (`String` for `&str`, `Vec<T>` for `&[T]`)",
                );
                return;
            }
            syn::visit::visit_type_reference(self, reference);
        }
        fn visit_lifetime(&mut self, lifetime: &'ast syn::Lifetime) {
            if lifetime.ident != "static" {
                self.errors.spanned(lifetime, "a message cannot borrow: take an owned type without lifetimes");
            }
        }
        fn visit_type_path(&mut self, path: &'ast syn::TypePath) {
            if path.qself.is_none() && path.path.segments.first().is_some_and(|s| s.ident == "Self") {
                self.errors.spanned(path, "a message type cannot name `Self`: use a concrete type");
                return;
            }
            syn::visit::visit_type_path(self, path);
        }
        fn visit_type_infer(&mut self, _: &'ast syn::TypeInfer) {
            self.inferred = true;
        }
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {}
    }
    let mut visitor = Borrowed { errors, local, inferred: false };
    visitor.visit_type(ty);
    !visitor.inferred
}
