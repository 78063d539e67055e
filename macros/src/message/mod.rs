//! `#[derive(Message)]`: a user type that calls can carry, through rkyv.
//!
//! A derive cannot add derives to the type it is on, so this one uses rkyv's
//! remote derive: it writes a mirror of the type (same generics, same fields)
//! inside a `const _: () = { .. };` block, derives rkyv's `Archive`,
//! `Serialize` and `Deserialize` on the mirror as a remote derive for the
//! user's type, and implements the three traits on the user's type by
//! handing over to the mirror. The archived form is exactly what
//! `#[derive(rkyv::Archive)]` on the type would give, named the same
//! (`Archived{Type}`), and everything goes through the facade's hidden rkyv
//! re-export, so the user's crate does not depend on rkyv itself.
//!
//! Each field whose type names no generic parameter (and is not a number,
//! `bool`, `char` or `String`) is marked `#[rkyv(with = Checked<{
//! TypeChecks::WIRE_n }>)]` with `const WIRE_n: bool = <T as
//! WireField>::WIRE` (the same device as the service enums use): a field
//! whose type cannot be carried gives one error, under the field, saying
//! what to derive. Fields that name a generic parameter are left to rkyv's
//! own bounds, checked where the type is used with concrete arguments.
//! Fields that hold the type itself (`Option<Box<Self>>`, or marked
//! `#[courier(recursive)]`) have those bounds left out, as rkyv asks for
//! recursive types.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use crate::actor_settings::ACTOR_OPTIONS;
use crate::errors::Errors;
use crate::helper;

mod fields;

use fields::{Field, FieldKind, Shape, Style, Variant};

/// Expands `#[derive(Message)]` on `input`: the impls, or the errors.
pub(crate) fn derive(input: syn::DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let mut krate: syn::Path = syn::parse_quote!(::courier);
    helper::read_options(&input.attrs, "`crate = path`", &mut errors, |meta, _| {
        if meta.path.is_ident("crate") {
            krate = helper::crate_path(meta)?;
            return Ok(true);
        }
        // The options of `#[derive(Actor)]`, for a type that derives both.
        let actor_option = ACTOR_OPTIONS.iter().any(|key| meta.path.is_ident(key));
        if actor_option {
            let _: syn::Expr = meta.value()?.parse()?;
        }
        Ok(actor_option)
    });
    let Some(shape) = fields::read(&input, &mut errors) else {
        return quote!(#errors);
    };
    // A mistaken option is reported beside a full expansion, so it is the
    // only error.
    let name = &input.ident;
    let names = Names {
        rkyv: quote!(#krate::__private::rkyv),
        mirror: format_ident!("{name}Mirror"),
        checks: format_ident!("{name}Checks"),
        archived: format_ident!("Archived{name}"),
        resolver: format_ident!("{name}Resolver"),
    };
    let expanded = Message { input: &input, krate, shape, names }.expand();
    quote!(#expanded #errors)
}

/// The type being derived, read.
struct Message<'a> {
    input: &'a syn::DeriveInput,
    krate: syn::Path,
    shape: Shape,
    names: Names,
}

/// The names of what the derive writes, in its block.
struct Names {
    /// The path of rkyv, through the facade.
    rkyv: TokenStream,
    /// `{Type}Mirror`: the type's fields, for rkyv's remote derive.
    mirror: syn::Ident,
    /// `{Type}Checks`: holds the `WIRE_n` constants.
    checks: syn::Ident,
    /// `Archived{Type}`, as rkyv's own derive would name it.
    archived: syn::Ident,
    /// `{Type}Resolver`, likewise.
    resolver: syn::Ident,
}

impl Message<'_> {
    fn expand(&self) -> TokenStream {
        let Message { input, krate, names, .. } = self;
        let Names { rkyv, mirror, checks: checks_ty, archived, .. } = names;
        let name = &input.ident;
        let (impl_generics, ty_generics, _) = input.generics.split_for_impl();
        let bounds = self.bounds();
        let archive_with = quote!(<#mirror #ty_generics as #rkyv::with::ArchiveWith<Self>>);
        let (checks, mirror_item) = self.mirror();
        // The impls hold where the mirror's do, and the archived type is
        // well-formed where each field's `with` wrapper archives it. The
        // mirror of a concrete type needs no `Archive` bound: one without
        // parameters would be checked where it is written, and fail loudly
        // after a field's check has already said why. The wrapper bounds
        // stand in for it; once a check fails they name its error, and the
        // compiler says nothing more about them.
        let mirror_bound = |bound: TokenStream| quote!(#mirror #ty_generics: #bound);
        let wrappers = checks.iter().map(|Check { ty, name, .. }| {
            quote!(#krate::__private::Checked<{ #checks_ty::#name }>: #rkyv::with::ArchiveWith<#ty>)
        });
        let bounds: Vec<_> = bounds.into_iter().chain(wrappers).collect();
        let generic = !input.generics.params.is_empty();
        let where_archive =
            where_clause(&bounds, generic.then(|| mirror_bound(quote!(#rkyv::with::ArchiveWith<Self>))));
        let where_serialize = where_clause(&bounds, Some(mirror_bound(quote!(#rkyv::with::SerializeWith<Self, __S>))));
        let where_deserialize = where_clause(
            &bounds,
            Some(mirror_bound(quote!(#rkyv::with::DeserializeWith<Self, #name #ty_generics, __D>))),
        );
        let checks = (!checks.is_empty()).then(|| {
            let items = checks.iter().map(|check| &check.item);
            quote! {
                /// One constant per concrete field type, which compiles
                /// only if that type can be carried.
                struct #checks_ty;
                impl #checks_ty {
                    #(#items)*
                }
            }
        });
        let conversion = self.conversion();
        let serialize = add_param(&input.generics, quote!(__S: #rkyv::rancor::Fallible + ?Sized));
        let deserialize = add_param(&input.generics, quote!(__D: #rkyv::rancor::Fallible + ?Sized));
        let (serialize_generics, deserialize_generics) = (serialize.split_for_impl().0, deserialize.split_for_impl().0);
        quote! {
            // The impls live in a block, out of the user's namespace; the
            // mirror only lends rkyv its fields.
            const _: () = {
                #checks
                #mirror_item
                #conversion

                #[automatically_derived]
                impl #impl_generics #rkyv::Archive for #name #ty_generics #where_archive {
                    // `#archived` and `#resolver`, named through the mirror so
                    // that the impls below, bounded on the mirror, agree.
                    type Archived = #archive_with::Archived;
                    type Resolver = #archive_with::Resolver;

                    fn resolve(&self, resolver: Self::Resolver, out: #rkyv::Place<Self::Archived>) {
                        #archive_with::resolve_with(self, resolver, out)
                    }
                }

                #[automatically_derived]
                impl #serialize_generics #rkyv::Serialize<__S> for #name #ty_generics #where_serialize {
                    fn serialize(&self, serializer: &mut __S) -> ::core::result::Result<Self::Resolver, __S::Error> {
                        <#mirror #ty_generics as #rkyv::with::SerializeWith<Self, __S>>::serialize_with(self, serializer)
                    }
                }

                #[automatically_derived]
                impl #deserialize_generics #rkyv::Deserialize<#name #ty_generics, __D> for #archived #ty_generics
                    #where_deserialize
                {
                    fn deserialize(&self, deserializer: &mut __D) -> ::core::result::Result<#name #ty_generics, __D::Error> {
                        <#mirror #ty_generics as #rkyv::with::DeserializeWith<Self, #name #ty_generics, __D>>::deserialize_with(
                            self,
                            deserializer,
                        )
                    }
                }
            };
        }
    }

    fn fields(&self) -> impl Iterator<Item = &Field> {
        let (one, many) = match &self.shape {
            Shape::Struct(fields) => (Some(fields), None),
            Shape::Enum(variants) => (None, Some(variants.iter().map(|variant| &variant.fields))),
        };
        one.into_iter().chain(many.into_iter().flatten()).flat_map(|fields| &fields.fields)
    }

    /// The bounds every impl shares: the type's own, and `T: Archive` for
    /// each field type naming a parameter, which the archived type asks for.
    fn bounds(&self) -> Vec<TokenStream> {
        let rkyv = &self.names.rkyv;
        let own = self.input.generics.where_clause.as_ref().map(|clause| &clause.predicates);
        let own = own.into_iter().flatten().map(|predicate| quote!(#predicate));
        let fields = self.fields().filter(|field| field.kind == FieldKind::Generic).map(|field| &field.ty);
        own.chain(fields.map(|ty| quote!(#ty: #rkyv::Archive))).collect()
    }

    /// The checks of concrete field types, and the mirror deriving rkyv's
    /// traits as a remote derive for the user's type.
    fn mirror(&self) -> (Vec<Check>, TokenStream) {
        let Message { input, krate, names, .. } = self;
        let Names { rkyv, mirror, checks: checks_ty, archived, resolver } = names;
        let mut checks: Vec<Check> = Vec::new();
        let mut field = |field: &Field| {
            let Field { cfgs, vis, member, ty, kind, span } = field;
            let attr = match kind {
                FieldKind::Concrete => {
                    let name = match checks.iter().find(|check| check.ty == *ty) {
                        Some(check) => check.name.clone(),
                        None => {
                            let name = format_ident!("WIRE_{}", checks.len());
                            let check = quote_spanned!(*span=> <#ty as #krate::__private::WireField>::WIRE);
                            let item = quote!(const #name: bool = #check;);
                            checks.push(Check { ty: ty.clone(), name: name.clone(), item });
                            name
                        }
                    };
                    quote!(#[rkyv(with = #krate::__private::Checked<{ #checks_ty::#name }>)])
                }
                FieldKind::Generic | FieldKind::Primitive => quote!(),
                FieldKind::Recursive => quote!(#[rkyv(omit_bounds)]),
            };
            match member {
                syn::Member::Named(ident) => quote!(#(#cfgs)* #attr #vis #ident: #ty),
                syn::Member::Unnamed(_) => quote!(#(#cfgs)* #attr #vis #ty),
            }
        };
        let body = match &self.shape {
            Shape::Struct(fields) => {
                let where_clause = &input.generics.where_clause;
                let list = fields.fields.iter().map(&mut field);
                match fields.style {
                    Style::Named => quote!(#where_clause { #(#list,)* }),
                    Style::Unnamed => quote!((#(#list,)*) #where_clause;),
                    Style::Unit => quote!(#where_clause;),
                }
            }
            Shape::Enum(variants) => {
                let where_clause = &input.generics.where_clause;
                let variants = variants.iter().map(|Variant { cfgs, ident, fields }| {
                    let list = fields.fields.iter().map(&mut field).collect::<Vec<_>>();
                    match fields.style {
                        Style::Named => quote!(#(#cfgs)* #ident { #(#list,)* }),
                        Style::Unnamed => quote!(#(#cfgs)* #ident(#(#list,)*)),
                        Style::Unit => quote!(#(#cfgs)* #ident),
                    }
                });
                let variants = variants.collect::<Vec<_>>();
                quote!(#where_clause { #(#variants,)* })
            }
        };
        let keyword = match self.shape {
            Shape::Struct(_) => quote!(struct),
            Shape::Enum(_) => quote!(enum),
        };
        let recursive = self.fields().any(|field| field.kind == FieldKind::Recursive).then(|| {
            quote! {
                #[rkyv(serialize_bounds(
                    __S: #rkyv::ser::Writer + #rkyv::ser::Allocator,
                    __S::Error: #rkyv::rancor::Source,
                ))]
                #[rkyv(deserialize_bounds(__D::Error: #rkyv::rancor::Source))]
                #[rkyv(bytecheck(bounds(
                    __C: #rkyv::validation::ArchiveContext,
                    __C::Error: #rkyv::rancor::Source,
                )))]
            }
        });
        let (vis, name, generics) = (&input.vis, &input.ident, &input.generics);
        let ty_generics = generics.split_for_impl().1;
        let item = quote! {
            #[derive(#rkyv::Archive, #rkyv::Serialize, #rkyv::Deserialize)]
            #[rkyv(crate = #rkyv, remote = #name #ty_generics, archived = #archived, resolver = #resolver)]
            #recursive
            #vis #keyword #mirror #generics #body
        };
        (checks, item)
    }

    /// `From<mirror> for Type`, which rkyv's remote `Deserialize` ends with.
    fn conversion(&self) -> TokenStream {
        let (name, mirror) = (&self.input.ident, &self.names.mirror);
        let (impl_generics, ty_generics, where_clause) = self.input.generics.split_for_impl();
        let body = match &self.shape {
            Shape::Struct(fields) => {
                let moves =
                    fields.fields.iter().map(|Field { cfgs, member, .. }| quote!(#(#cfgs)* #member: mirror.#member));
                quote!(#name { #(#moves,)* })
            }
            Shape::Enum(variants) => {
                let arms = variants.iter().map(|Variant { cfgs, ident, fields }| {
                    // `name` for a named field, `0: field_0` for a tuple's.
                    let bind = fields.fields.iter().map(|Field { cfgs, member, .. }| match member {
                        syn::Member::Named(name) => quote!(#(#cfgs)* #name),
                        syn::Member::Unnamed(index) => {
                            let binding = format_ident!("field_{}", index.index);
                            quote!(#(#cfgs)* #member: #binding)
                        }
                    });
                    let bind = bind.collect::<Vec<_>>();
                    quote!(#(#cfgs)* #mirror::#ident { #(#bind,)* } => #name::#ident { #(#bind,)* })
                });
                quote!(match mirror { #(#arms,)* })
            }
        };
        quote! {
            #[automatically_derived]
            impl #impl_generics ::core::convert::From<#mirror #ty_generics> for #name #ty_generics #where_clause {
                fn from(mirror: #mirror #ty_generics) -> Self {
                    #body
                }
            }
        }
    }
}

/// The check that a concrete field type can be carried.
struct Check {
    ty: syn::Type,
    /// `WIRE_n`, the constant that fails to compile when it cannot.
    name: syn::Ident,
    /// `const WIRE_n: bool = <T as WireField>::WIRE;`
    item: TokenStream,
}

/// `where` and the predicates, or nothing when there are none.
fn where_clause(bounds: &[TokenStream], extra: Option<TokenStream>) -> TokenStream {
    let predicates = bounds.iter().cloned().chain(extra).collect::<Vec<_>>();
    if predicates.is_empty() { quote!() } else { quote!(where #(#predicates),*) }
}

/// `generics` with one more type parameter.
fn add_param(generics: &syn::Generics, param: TokenStream) -> syn::Generics {
    let mut generics = generics.clone();
    generics.params.push(syn::parse_quote!(#param));
    generics
}
