//! The service trait read into a checked model.
//!
//! Every check reports at the user's own token and all errors are collected,
//! so one compile shows every mistake in the trait at once.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Attribute, FnArg, Ident, ItemTrait, Pat, ReturnType, TraitItem, TraitItemFn, Type, Visibility};

use crate::attr::Options;
use crate::names;

/// A service trait: its name, its methods and the macro's options.
pub(crate) struct Service {
    pub(crate) options: Options,
    pub(crate) vis: Visibility,
    pub(crate) ident: Ident,
    /// The trait's attributes (docs included), re-emitted as written.
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) supertraits: syn::punctuated::Punctuated<syn::TypeParamBound, syn::Token![+]>,
    pub(crate) methods: Vec<Method>,
}

/// One service method.
pub(crate) struct Method {
    /// The method's attributes less `#[tell]`.
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) ident: Ident,
    /// The request and response variant: `add` -> `Add`.
    pub(crate) variant: Ident,
    pub(crate) mutable: bool,
    pub(crate) args: Vec<(Ident, Type)>,
    /// The declared return type; `()` when none is written.
    pub(crate) output: Type,
    pub(crate) tell: bool,
    pub(crate) default: Option<syn::Block>,
}

impl Method {
    /// The doc attributes only, for the generated items that mirror the method.
    pub(crate) fn docs(&self) -> impl Iterator<Item = &Attribute> {
        self.attrs.iter().filter(|a| a.path().is_ident("doc"))
    }
}

/// Errors found so far, combined into one.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, span: Span, message: impl std::fmt::Display) {
        let error = syn::Error::new(span, message);
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(errors) => Err(errors),
            None => Ok(value),
        }
    }
}

impl Service {
    pub(crate) fn from_trait(item: ItemTrait, options: Options) -> syn::Result<Service> {
        let mut errors = Errors::default();
        if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
            errors.push(
                item.generics.span(),
                "generic service traits are not supported yet: a service's messages must have one concrete type",
            );
        }
        if let Some(unsafety) = &item.unsafety {
            errors.push(unsafety.span, "a service trait cannot be `unsafe`");
        }
        if let Some(auto) = &item.auto_token {
            errors.push(auto.span, "a service trait cannot be an auto trait");
        }
        let mut methods = Vec::new();
        for trait_item in item.items {
            match trait_item {
                TraitItem::Fn(function) => {
                    if let Some(method) = Method::read(function, &mut errors) {
                        methods.push(method);
                    }
                }
                other => errors.push(
                    other.span(),
                    "a service trait holds only `async fn` methods; move constants and types elsewhere",
                ),
            }
        }
        for (i, method) in methods.iter().enumerate() {
            if let Some(first) = methods[..i].iter().find(|m| m.variant == method.variant) {
                errors.push(
                    method.ident.span(),
                    format_args!("`{}` and `{}` would both become the variant `{}`; rename one", first.ident, method.ident, method.variant),
                );
            }
        }
        errors.finish(Service {
            options,
            vis: item.vis,
            ident: item.ident,
            attrs: item.attrs,
            supertraits: item.supertraits,
            methods,
        })
    }
}

impl Method {
    fn read(function: TraitItemFn, errors: &mut Errors) -> Option<Method> {
        let sig = &function.sig;
        let before = errors.0.is_some();
        let mut tell = false;
        let mut attrs = Vec::new();
        for attr in function.attrs {
            if attr.path().is_ident("tell") {
                if !matches!(attr.meta, syn::Meta::Path(_)) {
                    errors.push(attr.meta.span(), "`#[tell]` takes no arguments");
                }
                tell = true;
            } else {
                attrs.push(attr);
            }
        }
        if sig.asyncness.is_none() {
            errors.push(sig.fn_token.span, "service methods must be `async fn`: write `async fn` here");
        }
        if let Some(constness) = &sig.constness {
            errors.push(constness.span, "a service method cannot be `const`");
        }
        if let Some(unsafety) = &sig.unsafety {
            errors.push(unsafety.span, "a service method cannot be `unsafe`");
        }
        if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
            errors.push(
                sig.generics.span(),
                "generic methods are not supported yet: each method's message needs one concrete type",
            );
        }
        if let Some(variadic) = &sig.variadic {
            errors.push(variadic.span(), "a service method cannot be variadic");
        }
        let mut inputs = sig.inputs.iter();
        let mutable = match inputs.next() {
            Some(FnArg::Receiver(receiver)) if receiver.reference.is_some() && receiver.colon_token.is_none() => {
                receiver.mutability.is_some()
            }
            Some(FnArg::Receiver(receiver)) => {
                errors.push(
                    receiver.span(),
                    "a service method takes `&self` or `&mut self`: the actor keeps its state between messages",
                );
                false
            }
            _ => {
                errors.push(sig.ident.span(), "a service method takes `&self` or `&mut self` first");
                false
            }
        };
        let mut args = Vec::new();
        for input in inputs {
            let FnArg::Typed(arg) = input else { continue };
            let ident = match &*arg.pat {
                Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => pat.ident.clone(),
                other => {
                    errors.push(other.span(), "name this argument with a plain identifier (it becomes a message field)");
                    continue;
                }
            };
            check_owned(&arg.ty, errors);
            args.push((ident, (*arg.ty).clone()));
        }
        let output: Type = match &sig.output {
            ReturnType::Default => syn::parse_quote!(()),
            ReturnType::Type(_, ty) => {
                check_owned(ty, errors);
                if let Type::ImplTrait(_) = &**ty {
                    errors.push(ty.span(), "a service method must return a concrete type, not `impl Trait`");
                }
                (**ty).clone()
            }
        };
        if tell && !is_unit(&output) {
            errors.push(
                output.span(),
                "a `#[tell]` method is one-way and cannot return a value: remove the return type or `#[tell]`",
            );
        }
        if errors.0.is_some() && !before {
            return None;
        }
        Some(Method {
            variant: names::variant(&sig.ident),
            ident: sig.ident.clone(),
            attrs,
            mutable,
            args,
            output,
            tell,
            default: function.default,
        })
    }
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(tuple) if tuple.elems.is_empty())
}

/// Arguments and results move into messages that outlive the call site, so
/// they must own their data: no references, no lifetimes, no `Self`.
fn check_owned(ty: &Type, errors: &mut Errors) {
    struct Borrowed<'e> {
        errors: &'e mut Errors,
    }
    impl<'ast> Visit<'ast> for Borrowed<'_> {
        fn visit_type_reference(&mut self, reference: &'ast syn::TypeReference) {
            self.errors.push(
                reference.span(),
                "a message cannot hold a reference: take an owned type (`String` for `&str`, `Vec<T>` for `&[T]`)",
            );
        }
        fn visit_lifetime(&mut self, lifetime: &'ast syn::Lifetime) {
            self.errors.push(lifetime.span(), "a message cannot borrow: take an owned type without lifetimes");
        }
        fn visit_type_path(&mut self, path: &'ast syn::TypePath) {
            if path.qself.is_none() && path.path.segments.first().is_some_and(|s| s.ident == "Self") {
                self.errors.push(path.span(), "a message type cannot name `Self`: use a concrete type");
                return;
            }
            syn::visit::visit_type_path(self, path);
        }
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {}
    }
    Borrowed { errors }.visit_type(ty);
}
