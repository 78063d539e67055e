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
//! Each field whose type names no generic parameter is marked
//! `#[rkyv(with = Checked<WIRE_n>)]` with `const WIRE_n: bool = <T as
//! WireField>::WIRE` (the same device as the service enums use): a field
//! whose type cannot be carried gives one error, under the field, saying
//! what to derive. Fields that name a generic parameter are left to rkyv's
//! own bounds, checked where the type is used with concrete arguments.
//! Fields that hold the type itself (`Option<Box<Self>>`, or marked
//! `#[courier(recursive)]`) have those bounds left out, as rkyv asks for
//! recursive types.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;

use crate::errors::Errors;
use crate::helper;

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
        let actor_option = ["mailbox", "name"].iter().any(|key| meta.path.is_ident(key));
        if actor_option {
            let _: syn::Expr = meta.value()?.parse()?;
        }
        Ok(actor_option)
    });
    let shape = match &input.data {
        syn::Data::Struct(data) => Shape::Struct(read_fields(&input, &data.fields, &mut errors)),
        syn::Data::Enum(data) if data.variants.is_empty() => {
            errors.spanned(
                &input.ident,
                "`Message` cannot be derived for an enum without variants: no value of it could ever be sent",
            );
            return quote!(#errors);
        }
        syn::Data::Enum(data) => Shape::Enum(
            data.variants
                .iter()
                .map(|variant| Variant {
                    cfgs: cfgs(&variant.attrs),
                    ident: variant.ident.clone(),
                    fields: read_fields(&input, &variant.fields, &mut errors),
                })
                .collect(),
        ),
        syn::Data::Union(data) => {
            errors.at(
                data.union_token.span,
                "`Message` cannot be derived for a union: a union does not record which field it holds, \
                 so its bytes could not be checked when read; use an enum",
            );
            return quote!(#errors);
        }
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

enum Shape {
    Struct(Fields),
    Enum(Vec<Variant>),
}

struct Variant {
    cfgs: Vec<syn::Attribute>,
    ident: syn::Ident,
    fields: Fields,
}

/// The fields of a struct or of one variant.
struct Fields {
    style: Style,
    fields: Vec<Field>,
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Named,
    Unnamed,
    Unit,
}

struct Field {
    cfgs: Vec<syn::Attribute>,
    vis: syn::Visibility,
    /// The field's name, or its index in a tuple.
    member: syn::Member,
    /// The field's type, `Self` spelled out (in the mirror `Self` is the
    /// mirror).
    ty: syn::Type,
    kind: FieldKind,
    /// Where an error about this field points: from its name to its type.
    span: (Span, Span),
}

#[derive(Clone, Copy, PartialEq)]
enum FieldKind {
    /// Names no generic parameter: checked by a `WIRE_n` constant.
    Concrete,
    /// Names a generic parameter: rkyv's bound, on the impls.
    Generic,
    /// Holds the type itself: no bound at all.
    Recursive,
}

fn read_fields(input: &syn::DeriveInput, fields: &syn::Fields, errors: &mut Errors) -> Fields {
    let style = match fields {
        syn::Fields::Named(_) => Style::Named,
        syn::Fields::Unnamed(_) => Style::Unnamed,
        syn::Fields::Unit => Style::Unit,
    };
    let fields = fields
        .iter()
        .enumerate()
        .map(|(index, field)| {
            let mut recursive = false;
            helper::read_options(&field.attrs, "`recursive`", errors, |meta, _| {
                Ok(meta.path.is_ident("recursive") && {
                    recursive = true;
                    true
                })
            });
            let mut ty = field.ty.clone();
            SpellOutSelf(input).visit_type_mut(&mut ty);
            let mentions = Mentions::of(input, &ty);
            let kind = if recursive || mentions.itself {
                FieldKind::Recursive
            } else if mentions.generic {
                FieldKind::Generic
            } else {
                FieldKind::Concrete
            };
            let member = match &field.ident {
                Some(ident) => syn::Member::Named(ident.clone()),
                None => syn::Member::Unnamed(syn::Index { index: index as u32, span: field.ty.span() }),
            };
            let start = field.ident.as_ref().map_or_else(|| field.ty.span(), syn::Ident::span);
            Field { cfgs: cfgs(&field.attrs), vis: field.vis.clone(), member, ty, kind, span: (start, field.ty.span()) }
        })
        .collect();
    Fields { style, fields }
}

/// The `#[cfg]` attributes among `attrs`, which the mirror must share.
fn cfgs(attrs: &[syn::Attribute]) -> Vec<syn::Attribute> {
    attrs.iter().filter(|attr| attr.path().is_ident("cfg")).cloned().collect()
}

/// Replaces `Self` in a field's type with the type's own name and generics.
struct SpellOutSelf<'a>(&'a syn::DeriveInput);

impl VisitMut for SpellOutSelf<'_> {
    fn visit_type_mut(&mut self, ty: &mut syn::Type) {
        if let syn::Type::Path(path) = ty
            && path.qself.is_none()
            && path.path.is_ident("Self")
        {
            let (name, (_, generics, _)) = (&self.0.ident, self.0.generics.split_for_impl());
            *ty = syn::parse_quote_spanned!(path.span()=> #name #generics);
            return;
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }
}

/// What a field's type names: a generic parameter, the type itself.
#[derive(Default)]
struct Mentions<'a> {
    params: Vec<String>,
    name: Option<&'a syn::Ident>,
    generic: bool,
    itself: bool,
}

impl<'a> Mentions<'a> {
    fn of(input: &'a syn::DeriveInput, ty: &syn::Type) -> Mentions<'a> {
        let params = input
            .generics
            .params
            .iter()
            .map(|param| match param {
                syn::GenericParam::Type(param) => param.ident.to_string(),
                syn::GenericParam::Const(param) => param.ident.to_string(),
                syn::GenericParam::Lifetime(param) => param.lifetime.ident.to_string(),
            })
            .collect();
        let mut mentions = Mentions { params, name: Some(&input.ident), ..Mentions::default() };
        mentions.visit_type(ty);
        mentions
    }
}

impl Visit<'_> for Mentions<'_> {
    fn visit_path_segment(&mut self, segment: &syn::PathSegment) {
        self.generic |= self.params.iter().any(|param| segment.ident == param);
        self.itself |= self.name.is_some_and(|name| segment.ident == *name);
        syn::visit::visit_path_segment(self, segment);
    }

    fn visit_lifetime(&mut self, lifetime: &syn::Lifetime) {
        self.generic |= self.params.iter().any(|param| lifetime.ident == param);
    }
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
                            let (open, rest) = (quote_spanned!(span.0=> <), quote_spanned!(span.1=> as));
                            let check = quote_spanned!(span.1=> #krate::__private::WireField>::WIRE);
                            let item = quote!(const #name: bool = #open #ty #rest #check;);
                            checks.push(Check { ty: ty.clone(), name: name.clone(), item });
                            name
                        }
                    };
                    quote!(#[rkyv(with = #krate::__private::Checked<{ #checks_ty::#name }>)])
                }
                FieldKind::Generic => quote!(),
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
