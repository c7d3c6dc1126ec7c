//! The 2014 tool's `%name%` placeholders, converted to Handlebars so old trees render
//! unchanged (and get the same YAML-safe escaping).

/// Converts `%name%` to `{{name}}`; existing `{{` are escaped so they stay literal text.
pub fn convert(src: &str) -> String {
    let escaped = src.replace("{{", "\\{{");
    let bytes = escaped.as_bytes();
    let mut out = String::with_capacity(escaped.len() + 16);
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(len) = name_len(&bytes[i + 1..])
            && bytes.get(i + 1 + len) == Some(&b'%')
        {
            out.push_str(&escaped[copied..i]);
            out.push_str("{{");
            out.push_str(&escaped[i + 1..i + 1 + len]);
            out.push_str("}}");
            i += len + 2;
            copied = i;
            continue;
        }
        i += 1;
    }
    out.push_str(&escaped[copied..]);
    out
}

/// The first `%name%` placeholder in `src`, to suggest `--legacy-percent`.
pub fn first_placeholder(src: &str) -> Option<&str> {
    let bytes = src.as_bytes();
    (0..bytes.len()).find_map(|i| {
        if bytes[i] != b'%' {
            return None;
        }
        let len = name_len(&bytes[i + 1..])?;
        (bytes.get(i + 1 + len) == Some(&b'%')).then(|| &src[i..i + len + 2])
    })
}

fn name_len(rest: &[u8]) -> Option<usize> {
    let first = *rest.first()?;
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return None;
    }
    Some(
        rest.iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_percent_placeholders() {
        assert_eq!(
            convert("url: %db_uri%?x=%y%\n"),
            "url: {{db_uri}}?x={{y}}\n"
        );
    }

    #[test]
    fn leaves_other_percent_signs_and_escapes_mustaches() {
        assert_eq!(
            convert("a: 100% of %20 {{b}}\n"),
            "a: 100% of %20 \\{{b}}\n"
        );
    }

    #[test]
    fn finds_the_first_placeholder() {
        assert_eq!(first_placeholder("a: 50% %x_1% %y%"), Some("%x_1%"));
        assert_eq!(first_placeholder("a: 50%"), None);
    }
}
