//! Reading the fields of a `#[derive(Message)]` type: their shape, and
//! what each one's type needs (a check, rkyv's bound, or no bound at all).

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;

use crate::errors::Errors;
use crate::helper;

/// A struct's fields, or an enum's variants.
pub(super) enum Shape {
    Struct(Fields),
    Enum(Vec<Variant>),
}

/// One variant of an enum.
pub(super) struct Variant {
    pub(super) cfgs: Vec<syn::Attribute>,
    pub(super) ident: syn::Ident,
    pub(super) fields: Fields,
}

/// The fields of a struct or of one variant.
pub(super) struct Fields {
    pub(super) style: Style,
    pub(super) fields: Vec<Field>,
}

/// How a struct or variant lists its fields.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Style {
    Named,
    Unnamed,
    Unit,
}

/// One field, read.
pub(super) struct Field {
    pub(super) cfgs: Vec<syn::Attribute>,
    pub(super) vis: syn::Visibility,
    /// The field's name, or its index in a tuple.
    pub(super) member: syn::Member,
    /// The field's type, `Self` spelled out (in the mirror `Self` is the
    /// mirror).
    pub(super) ty: syn::Type,
    pub(super) kind: FieldKind,
    /// Where an error about this field points: its type as written.
    pub(super) span: Span,
}

/// What a field's type needs.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum FieldKind {
    /// Names no generic parameter: checked by a `WIRE_n` constant.
    Concrete,
    /// Names a generic parameter: rkyv's bound, on the impls.
    Generic,
    /// Holds the type itself: no bound at all.
    Recursive,
    /// A number, `bool`, `char` or `String`: always carried, so left to
    /// rkyv's own bounds without a check.
    Primitive,
}

/// Reads the fields of a struct or the variants of an enum, or reports why
/// the type cannot be carried at all.
pub(super) fn read(input: &syn::DeriveInput, errors: &mut Errors) -> Option<Shape> {
    match &input.data {
        syn::Data::Struct(data) => Some(Shape::Struct(read_fields(input, &data.fields, errors))),
        syn::Data::Enum(data) if data.variants.is_empty() => {
            errors.spanned(
                &input.ident,
                "`Message` cannot be derived for an enum without variants: no value of it could ever be sent",
            );
            None
        }
        syn::Data::Enum(data) => Some(Shape::Enum(
            data.variants
                .iter()
                .map(|variant| Variant {
                    cfgs: cfgs(&variant.attrs),
                    ident: variant.ident.clone(),
                    fields: read_fields(input, &variant.fields, errors),
                })
                .collect(),
        )),
        syn::Data::Union(data) => {
            errors.at(
                data.union_token.span,
                "`Message` cannot be derived for a union: a union does not record which field it holds, \
                 so its bytes could not be checked when read; use an enum",
            );
            None
        }
    }
}

/// Whether `ty` is a standard type named by one word that is always
/// carried.
fn is_primitive(ty: &syn::Type) -> bool {
    const PRIMITIVES: [&str; 17] = [
        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize", "f32", "f64", "bool",
        "char", "String",
    ];
    match ty {
        syn::Type::Path(path) if path.qself.is_none() => {
            path.path.get_ident().is_some_and(|ident| PRIMITIVES.iter().any(|name| ident == name))
        }
        _ => false,
    }
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
            } else if is_primitive(&ty) {
                FieldKind::Primitive
            } else {
                FieldKind::Concrete
            };
            let member = match &field.ident {
                Some(ident) => syn::Member::Named(ident.clone()),
                None => syn::Member::Unnamed(syn::Index { index: index as u32, span: field.ty.span() }),
            };
            Field { cfgs: cfgs(&field.attrs), vis: field.vis.clone(), member, ty, kind, span: field.ty.span() }
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

#[cfg(test)]
mod tests {
    use quote::ToTokens;

    use super::*;

    /// Each field of `item` as (its type, as the mirror writes it, and kind).
    fn kinds(item: &str) -> Vec<(String, FieldKind)> {
        let input: syn::DeriveInput = syn::parse_str(item).expect("an item");
        let mut errors = Errors::default();
        let shape = read(&input, &mut errors).expect("a shape");
        assert!(errors.is_empty());
        let fields: Vec<&Field> = match &shape {
            Shape::Struct(fields) => fields.fields.iter().collect(),
            Shape::Enum(variants) => variants.iter().flat_map(|variant| &variant.fields.fields).collect(),
        };
        fields.into_iter().map(|field| (field.ty.to_token_stream().to_string(), field.kind)).collect()
    }

    #[test]
    fn each_field_gets_what_its_type_needs() {
        let read = kinds(
            "struct Page<T, const N: usize> {
                total: u64,
                name: String,
                at: Point,
                items: Vec<T>,
                fixed: [u8; N],
                next: Option<Box<Self>>,
                other: Vec<Page<u8, 1>>,
                path: std::string::String,
            }",
        );
        let expected = [
            ("u64", FieldKind::Primitive),
            ("String", FieldKind::Primitive),
            ("Point", FieldKind::Concrete),
            ("Vec < T >", FieldKind::Generic),
            ("[u8 ; N]", FieldKind::Generic),
            ("Option < Box < Page < T , N > > >", FieldKind::Recursive),
            ("Vec < Page < u8 , 1 > >", FieldKind::Recursive),
            ("std :: string :: String", FieldKind::Concrete),
        ];
        let read: Vec<(&str, FieldKind)> = read.iter().map(|(ty, kind)| (ty.as_str(), *kind)).collect();
        assert!(read == expected, "{:?}", read.iter().map(|(ty, _)| ty).collect::<Vec<_>>());
    }

    #[test]
    fn a_marked_field_is_recursive_and_variants_are_read_in_order() {
        let read = kinds(
            "enum Tree {
                Leaf(u8),
                Node { #[courier(recursive)] children: Vec<Forest>, label: Label },
                Empty,
            }",
        );
        let kinds: Vec<FieldKind> = read.into_iter().map(|(_, kind)| kind).collect();
        assert!(kinds == [FieldKind::Primitive, FieldKind::Recursive, FieldKind::Concrete]);
    }

    #[test]
    fn unions_and_empty_enums_are_refused() {
        for item in ["union Bits { a: u32, b: f32 }", "enum Never {}"] {
            let input: syn::DeriveInput = syn::parse_str(item).expect("an item");
            let mut errors = Errors::default();
            assert!(read(&input, &mut errors).is_none());
            assert_eq!(errors.len(), 1);
        }
    }
}
