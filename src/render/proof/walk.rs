//! Reading a marked template document the way the full check reads a rendered one
//! (`objects::parse`: the identity fields, every other value walked for duplicate keys),
//! noting which placeholders make up an identity field and refusing those in keys.

use super::{CLOSE, Field, Identity, Need, OPEN, whole_marker};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// The identity of the object `doc` holds (`None` for a document of comments only);
/// `None` when it is not proven to be one. `marked` is the whole marked template.
pub(super) fn document(doc: &str, marked: &str, needs: &mut [Need]) -> Option<Option<Identity>> {
    let mut found = Found { marked, needs };
    Top(&mut found)
        .deserialize(serde_yaml::Deserializer::from_str(doc))
        .ok()
}

struct Found<'a> {
    marked: &'a str,
    needs: &'a mut [Need],
}

fn unproven<E: de::Error>() -> E {
    E::custom("not proven")
}

/// Records a mapping key (as `yaml::KeySet` compares them); a key seen before fails.
fn insert<E: de::Error>(keys: &mut HashSet<String>, key: Option<String>) -> Result<(), E> {
    match key.map(|k| keys.insert(k)) {
        Some(false) => Err(unproven()),
        _ => Ok(()),
    }
}

/// A whole document: nothing (comments only), or an object.
struct Top<'f, 'a>(&'f mut Found<'a>);

impl<'de> DeserializeSeed<'de> for Top<'_, '_> {
    type Value = Option<Identity>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_> {
    type Value = Option<Identity>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kubernetes object")
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(Head(self.0)).map(Some)
    }
}

/// The object's top mapping.
struct Head<'f, 'a>(&'f mut Found<'a>);

impl<'de> Visitor<'de> for Head<'_, '_> {
    type Value = Identity;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kubernetes object (a mapping)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Identity, A::Error> {
        let (mut api_version, mut kind, mut name) = (None, None, None);
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key_seed(Key(self.0))? {
            let text = key.clone();
            insert(&mut keys, key)?;
            match text.as_deref() {
                Some("apiVersion") => api_version = map.next_value_seed(Id(self.0))?,
                Some("kind") => kind = map.next_value_seed(Id(self.0))?,
                Some("metadata") => name = map.next_value_seed(Metadata(self.0))?.flatten(),
                _ => map.next_value_seed(Any(self.0, false))?,
            }
        }
        match (api_version, kind, name) {
            (Some(api_version), Some(kind), Some(name)) => Ok(Identity {
                api_version,
                kind,
                name,
            }),
            _ => Err(unproven()),
        }
    }
}

/// `metadata`: its `name`, or else its `generateName` (`None` for `metadata: null`).
struct Metadata<'f, 'a>(&'f mut Found<'a>);

impl<'de> DeserializeSeed<'de> for Metadata<'_, '_> {
    type Value = Option<Option<Field>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Metadata<'_, '_> {
    type Value = Option<Option<Field>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("struct Metadata (a mapping)")
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut name, mut generate_name) = (None, None);
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key_seed(Key(self.0))? {
            let text = key.clone();
            insert(&mut keys, key)?;
            match text.as_deref() {
                Some("name") => name = map.next_value_seed(Id(self.0))?,
                Some("generateName") => generate_name = map.next_value_seed(Id(self.0))?,
                _ => map.next_value_seed(Any(self.0, false))?,
            }
        }
        Ok(Some(name.or(generate_name)))
    }
}

/// An identity field, read as a string the way the full check reads it (`Option<String>`).
/// A placeholder may be the whole of it when it is a one-line double-quoted scalar.
struct Id<'f, 'a>(&'f mut Found<'a>);

impl<'de> DeserializeSeed<'de> for Id<'_, '_> {
    type Value = Option<Field>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Id<'_, '_> {
    type Value = Option<Field>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        if !s.contains([OPEN, CLOSE]) {
            return Ok(Some(Field::Literal(s.to_string())));
        }
        // Each marker is in the template once: quotes right around it mean the scalar is
        // nothing else, on one line, so its value is read back exactly as it was.
        let i = whole_marker(s).ok_or_else(unproven)?;
        if !self.0.marked.contains(&format!("\"{OPEN}{i}{CLOSE}\"")) {
            return Err(unproven());
        }
        *self.0.needs.get_mut(i).ok_or_else(unproven)? = Need::Text;
        Ok(Some(Field::Value(i)))
    }
}

/// A mapping key, as `yaml::Key` reads it; one holding a placeholder is not proven.
struct Key<'f, 'a>(&'f mut Found<'a>);

impl<'de> DeserializeSeed<'de> for Key<'_, '_> {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Key<'_, '_> {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping key")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        match s.contains([OPEN, CLOSE]) {
            true => Err(unproven()),
            false => Ok(Some(s.to_string())),
        }
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Some("null".into()))
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Some("null".into()))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Any(self.0, true).visit_seq(seq).map(|()| None)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Any(self.0, true).visit_map(map).map(|()| None)
    }
}

/// Any other value, walked for duplicate keys as `yaml::Unique` walks it; inside a key
/// (the flag), a placeholder is not proven. Tagged values and binary ones are not either.
struct Any<'f, 'a>(&'f mut Found<'a>, bool);

impl<'de> DeserializeSeed<'de> for Any<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Any<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        match self.1 && s.contains([OPEN, CLOSE]) {
            true => Err(unproven()),
            false => Ok(()),
        }
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Any(self.0, self.1))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key_seed(Key(self.0))? {
            insert(&mut keys, key)?;
            map.next_value_seed(Any(self.0, self.1))?;
        }
        Ok(())
    }
}
