//! RandomString generation follows Heat's properties and algorithm.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::super::random::RandomSpec;

fn spec(props: Value) -> Result<RandomSpec, String> {
    RandomSpec::from_properties(props.as_object().unwrap())
}

fn samples(props: Value, n: usize) -> Vec<String> {
    let s = spec(props).unwrap();
    (0..n).map(|_| s.generate(&mut rand::rng())).collect()
}

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const DIGITS: &str = "0123456789";

#[test]
fn default_is_32_letters_and_digits() {
    for v in samples(json!({}), 200) {
        assert_eq!(v.chars().count(), 32);
        assert!(v.chars().all(|c| c.is_ascii_alphanumeric()), "{v}");
    }
}

#[test]
fn length_and_deprecated_sequence_are_respected() {
    for v in samples(json!({"length": 8, "sequence": "hexdigits"}), 300) {
        assert_eq!(v.len(), 8);
        assert!(v.chars().all(|c| "0123456789ABCDEF".contains(c)), "{v}");
    }
    for v in samples(json!({"length": "5", "sequence": "octdigits"}), 100) {
        assert!(
            v.len() == 5 && v.chars().all(|c| ('0'..='7').contains(&c)),
            "{v}"
        );
    }
}

#[test]
fn class_minimums_are_met_in_every_value_and_only_class_characters_appear() {
    let props = json!({"length": 10, "character_classes": [{"class": "lowercase", "min": 3}, {"class": "digits", "min": 4}]});
    let mut first_chars = BTreeSet::new();
    for v in samples(props, 500) {
        assert_eq!(v.len(), 10);
        assert!(v.chars().filter(|c| LOWER.contains(*c)).count() >= 3, "{v}");
        assert!(
            v.chars().filter(|c| DIGITS.contains(*c)).count() >= 4,
            "{v}"
        );
        assert!(
            v.chars().all(|c| LOWER.contains(c) || DIGITS.contains(c)),
            "{v}"
        );
        first_chars.insert(v.chars().next().unwrap().is_ascii_digit());
    }
    // Minimums are drawn first, then shuffled: any position can hold either class.
    assert_eq!(first_chars.len(), 2);
}

#[test]
fn sequence_minimums_are_met_and_join_the_default_class() {
    let props = json!({"length": 12, "character_sequences": [{"sequence": "!@#", "min": 2}]});
    let mut seen = BTreeSet::new();
    for v in samples(props, 300) {
        assert!(v.chars().filter(|c| "!@#".contains(*c)).count() >= 2, "{v}");
        assert!(
            v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!@#".contains(c)),
            "{v}"
        );
        seen.extend(v.chars());
    }
    // Heat's default class (letters and digits) still applies beside the sequences.
    assert!(seen.iter().any(|c| c.is_ascii_alphanumeric()));
}

#[test]
fn every_character_of_the_pool_gets_drawn() {
    let seen: BTreeSet<char> = samples(json!({"length": 64, "sequence": "digits"}), 50)
        .concat()
        .chars()
        .collect();
    assert_eq!(seen.len(), 10);
}

#[test]
fn sequence_adds_a_class_to_the_given_classes() {
    for v in samples(
        json!({"length": 6, "sequence": "digits", "character_classes": [{"class": "uppercase"}]}),
        200,
    ) {
        assert!(
            v.chars().any(|c| c.is_ascii_digit()) && v.chars().any(|c| c.is_ascii_uppercase()),
            "{v}"
        );
    }
}

#[test]
fn minimums_above_the_length_are_refused() {
    let err = spec(json!({"length": 4, "character_classes": [{"class": "digits", "min": 3}, {"class": "lowercase", "min": 2}]}))
        .unwrap_err();
    assert!(err.contains("combined") && err.contains("(5)"), "{err}");
}

#[test]
fn bad_properties_are_refused_with_the_reason() {
    assert!(
        spec(json!({"length": 0}))
            .unwrap_err()
            .contains("out of range")
    );
    assert!(
        spec(json!({"length": 513}))
            .unwrap_err()
            .contains("out of range")
    );
    assert!(
        spec(json!({"length": "ten"}))
            .unwrap_err()
            .contains("not an integer")
    );
    assert!(
        spec(json!({"sequence": "emoji"}))
            .unwrap_err()
            .contains("not one of")
    );
    assert!(
        spec(json!({"character_classes": [{"class": "punct"}]}))
            .unwrap_err()
            .contains("punct")
    );
    assert!(
        spec(json!({"character_sequences": [{"min": 1}]}))
            .unwrap_err()
            .contains("required")
    );
    assert!(
        spec(json!({"character_sequences": [{"sequence": ""}]}))
            .unwrap_err()
            .contains("empty")
    );
    assert!(
        spec(json!({"lenght": 3}))
            .unwrap_err()
            .contains("unknown property `lenght`")
    );
    assert!(
        spec(json!({"character_classes": [{"class": "digits", "min": 0}]}))
            .unwrap_err()
            .contains("out of range")
    );
}

#[test]
fn equivalent_spellings_share_a_fingerprint_and_real_changes_do_not() {
    let a = spec(json!({"sequence": "lettersdigits"})).unwrap();
    let b = spec(json!({"character_classes": [{"class": "lettersdigits", "min": 1}]})).unwrap();
    let c = spec(json!({})).unwrap();
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert_eq!(a.fingerprint(), c.fingerprint());
    assert_ne!(
        a.fingerprint(),
        spec(json!({"length": 31})).unwrap().fingerprint()
    );
    assert_ne!(
        a.fingerprint(),
        spec(json!({"salt": "x"})).unwrap().fingerprint()
    );
}
