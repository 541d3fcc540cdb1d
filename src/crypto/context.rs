//! Canonical encryption context: the bytes bound into a ciphertext's AAD.
//!
//! Pairs sorted by key (byte order), each as `u32be len ‖ key ‖ u32be len ‖ value`,
//! preceded by the pair count; unambiguous, so no two contexts share an encoding.

use std::collections::BTreeMap;

pub fn canonical_context(context: &BTreeMap<String, String>) -> Vec<u8> {
    let size: usize = context.iter().map(|(k, v)| 8 + k.len() + v.len()).sum();
    let mut out = Vec::with_capacity(4 + size);
    out.extend_from_slice(&(context.len() as u32).to_be_bytes());
    // BTreeMap<String, _> iterates in byte order of the keys.
    for (key, value) in context {
        out.extend_from_slice(&(key.len() as u32).to_be_bytes());
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn order_of_insertion_does_not_matter() {
        assert_eq!(
            canonical_context(&ctx(&[("a", "1"), ("b", "2")])),
            canonical_context(&ctx(&[("b", "2"), ("a", "1")]))
        );
    }

    #[test]
    fn encoding_is_unambiguous() {
        // Concatenation-style encodings would make these two equal.
        assert_ne!(
            canonical_context(&ctx(&[("ab", "c")])),
            canonical_context(&ctx(&[("a", "bc")]))
        );
        assert_ne!(
            canonical_context(&ctx(&[])),
            canonical_context(&ctx(&[("", "")]))
        );
    }

    #[test]
    fn known_encoding() {
        assert_eq!(
            hex::encode(canonical_context(&ctx(&[("k", "v")]))),
            "00000001000000016b0000000176"
        );
    }
}
