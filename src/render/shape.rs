//! The kept form of a proven template: its proof, the names it uses, and its rewritten
//! text as parts of the template itself, the pre-pass's own text (quotes, escapes) and
//! values. A later render of the same template (the same bytes: the key is their SHA-256)
//! reads no pre-pass and no Handlebars: it copies the parts, places each value as the
//! pre-pass's helpers would, and checks the values against the proof.
//!
//! It is kept as bytes ([`codec`]) and rendered from them without building anything, so a
//! render of 10,000 kept templates allocates little more than their outputs.

use super::helpers;
use super::legacy;
use super::prepass::{Context, Piece, Prepared};
use super::proof::{Field, Ident, Identity, Need, Proof};
pub use codec::{Reader, Writer};
use serde_json::Value as Json;

mod codec;

/// Derives the proof of the template `text`, which the pre-pass made `prepared` of (with
/// `pieces` its direct form), and the bytes to keep for it.
pub fn derive(text: &str, prepared: &Prepared, pieces: &[Piece]) -> Option<(Proof, Vec<u8>)> {
    let proof = super::proof::derive(prepared, pieces)?;
    let bytes = encode(text, prepared, pieces, &proof);
    Some((proof, bytes))
}

#[cfg(test)]
/// The kept bytes of a proof alone: the template is rendered in full, then checked by it.
pub fn encode_proof(proof: &Proof) -> Vec<u8> {
    let mut w = Writer::default();
    write_proof(&mut w, proof);
    w.u8(0);
    w.0
}

/// A proven template's kept bytes: the proof, then (when its parts give its text back)
/// what renders it.
fn encode(text: &str, prepared: &Prepared, pieces: &[Piece], proof: &Proof) -> Vec<u8> {
    let mut w = Writer::default();
    write_proof(&mut w, proof);
    // A `%name%` in it earns a warning, which only the full render gives.
    match parts(text, prepared, pieces) {
        Some(parts) if legacy::first_placeholder(text).is_none() => {
            w.u8(1);
            w.u32(prepared.names.len());
            for name in &prepared.names {
                w.str(name);
            }
            w.u32(parts.len());
            for part in &parts {
                write_part(&mut w, prepared, part);
            }
        }
        _ => w.u8(0),
    }
    w.0
}

/// The proof in kept bytes.
pub fn proof(kept: &[u8]) -> Option<Proof> {
    read_proof(&mut Reader(kept))
}

/// Renders `text` (the template the bytes were kept for) with `data`: its output and its
/// documents' identities, and each name it uses given to `used`. `None` when it cannot:
/// a value is missing, or placed where it cannot be, or not one the proof admits (the
/// full render then says why), or the bytes are damaged.
pub fn render(
    kept: &[u8],
    text: &str,
    data: &Json,
    used: &mut dyn FnMut(&str),
) -> Option<(String, Vec<Option<Ident>>)> {
    let mut r = Reader(kept);
    let proof = read_proof(&mut r)?;
    if r.u8()? != 1 {
        return None;
    }
    for _ in 0..r.u32()? {
        used(r.str()?);
    }
    let mut out = String::with_capacity(text.len() + 32 * proof.needs.len());
    let mut values = vec![None; proof.needs.len()];
    for _ in 0..r.u32()? {
        match r.u8()? {
            0 => {
                let (start, end) = (r.u32()?, r.u32()?);
                out.push_str(text.get(start..end)?);
            }
            1 => out.push_str(r.str()?),
            2 => {
                let (i, context, path) = (r.u32()?, read_context(&mut r)?, r.str()?);
                let value = path
                    .split('.')
                    .try_fold(data, |v, seg| v.as_object().and_then(|o| o.get(seg)))?;
                *values.get_mut(i)? = Some(value);
                helpers::place(value, context, &mut out).ok()?;
            }
            _ => return None,
        }
    }
    Some((out, proof.admit(&values)?))
}

/// A part of the rewritten text: copied from the template, the pre-pass's own, or a value.
enum Part<'a> {
    Copy(usize, usize),
    Own(&'a str),
    Value(usize, &'a str),
}

/// The rewritten text's pieces as parts; `None` when they do not give the text back.
fn parts<'a>(text: &str, prepared: &'a Prepared, pieces: &'a [Piece]) -> Option<Vec<Part<'a>>> {
    let mut parts = Vec::with_capacity(pieces.len() * 2);
    let mut copied = prepared.copied.iter().peekable();
    for piece in pieces {
        let range = match piece {
            Piece::Text(range) => range.clone(),
            Piece::Value { placeholder, path } => {
                parts.push(Part::Value(*placeholder, path));
                continue;
            }
        };
        let mut at = range.start;
        while at < range.end {
            while copied.next_if(|c| c.out.end <= at).is_some() {}
            let end = match copied.peek() {
                Some(c) if c.out.start <= at => {
                    let end = c.out.end.min(range.end);
                    let from = c.src + (at - c.out.start);
                    parts.push(Part::Copy(from, from + (end - at)));
                    end
                }
                next => {
                    let end = next.map_or(range.end, |c| c.out.start.min(range.end));
                    parts.push(Part::Own(prepared.text.get(at..end)?));
                    end
                }
            };
            at = end;
        }
    }
    gives_back(text, prepared, pieces, &parts).then_some(parts)
}

/// Whether `parts` make up the same text as `pieces` (what a render of either gives).
fn gives_back(text: &str, prepared: &Prepared, pieces: &[Piece], parts: &[Part]) -> bool {
    let mut from_pieces = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(range) => from_pieces.push_str(&prepared.text[range.clone()]),
            Piece::Value { placeholder, .. } => from_pieces.push_str(&format!("\0{placeholder}\0")),
        }
    }
    let mut from_parts = String::new();
    for part in parts {
        match part {
            Part::Copy(start, end) => match text.get(*start..*end) {
                Some(t) => from_parts.push_str(t),
                None => return false,
            },
            Part::Own(t) => from_parts.push_str(t),
            Part::Value(i, _) => from_parts.push_str(&format!("\0{i}\0")),
        }
    }
    from_pieces == from_parts
}

fn write_part(w: &mut Writer, prepared: &Prepared, part: &Part) {
    match part {
        Part::Copy(start, end) => {
            w.u8(0);
            w.u32(*start);
            w.u32(*end);
        }
        Part::Own(text) => {
            w.u8(1);
            w.str(text);
        }
        Part::Value(i, path) => {
            w.u8(2);
            w.u32(*i);
            write_context(w, prepared.placeholders[*i].context);
            w.str(path);
        }
    }
}

fn write_context(w: &mut Writer, context: Context) {
    let (kind, indent) = match context {
        Context::Value => (0, 0),
        Context::Quoted => (1, 0),
        Context::Literal { indent } => (2, indent),
        Context::Folded { indent } => (3, indent),
        Context::Comment => (4, 0),
        Context::Raw => (5, 0),
    };
    w.u8(kind);
    w.u32(indent);
}

fn read_context(r: &mut Reader) -> Option<Context> {
    let (kind, indent) = (r.u8()?, r.u32()?);
    Some(match kind {
        0 => Context::Value,
        1 => Context::Quoted,
        2 => Context::Literal { indent },
        3 => Context::Folded { indent },
        4 => Context::Comment,
        5 => Context::Raw,
        _ => return None,
    })
}

fn write_proof(w: &mut Writer, proof: &Proof) {
    w.u32(proof.docs.len());
    for doc in &proof.docs {
        match doc {
            None => w.u8(0),
            Some(id) => {
                w.u8(1);
                for field in [&id.api_version, &id.kind, &id.name] {
                    match field {
                        Field::Literal(s) => {
                            w.u8(0);
                            w.str(s);
                        }
                        Field::Value(i) => {
                            w.u8(1);
                            w.u32(*i);
                        }
                    }
                }
            }
        }
    }
    w.u32(proof.needs.len());
    for need in &proof.needs {
        w.u8(match need {
            Need::Any => 0,
            Need::Scalar => 1,
            Need::Text => 2,
        });
    }
}

fn read_proof(r: &mut Reader) -> Option<Proof> {
    let mut docs = Vec::new();
    for _ in 0..r.u32()? {
        docs.push(match r.u8()? {
            0 => None,
            1 => Some(Identity {
                api_version: read_field(r)?,
                kind: read_field(r)?,
                name: read_field(r)?,
            }),
            _ => return None,
        });
    }
    let mut needs = Vec::new();
    for _ in 0..r.u32()? {
        needs.push(match r.u8()? {
            0 => Need::Any,
            1 => Need::Scalar,
            2 => Need::Text,
            _ => return None,
        });
    }
    Some(Proof { docs, needs })
}

fn read_field(r: &mut Reader) -> Option<Field> {
    match r.u8()? {
        0 => Some(Field::Literal(r.str()?.to_string())),
        1 => Some(Field::Value(r.u32()?)),
        _ => None,
    }
}

#[cfg(test)]
#[path = "shape_tests.rs"]
mod tests;
