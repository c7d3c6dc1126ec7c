//! Reading the registry's headers: digests, challenges, pagination links.

use std::collections::HashMap;

pub(super) fn digest_header(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Tokens are kept per repository (the part of the path between `v2/` and `/manifests`,
/// `/tags` or `/blobs`), or for the registry as a whole.
pub(super) fn scope_key(path: &str) -> String {
    let rest = path.strip_prefix("v2/").unwrap_or(path);
    for marker in ["/manifests/", "/tags/", "/blobs/"] {
        if let Some(i) = rest.find(marker) {
            return rest[..i].to_string();
        }
    }
    String::new()
}

/// `Bearer realm="https://auth",service="reg",scope="repository:a:pull"` -> scheme + params.
pub fn parse_challenge(header: &str) -> (String, HashMap<String, String>) {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = HashMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            (&quoted[..end], quoted.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        params.insert(key, value.to_string());
        rest = remaining.trim_start_matches([',', ' ']);
    }
    (scheme.to_string(), params)
}

/// The `next` target of a `Link: </v2/_catalog?last=x&n=100>; rel="next"` header.
pub(super) fn link_next(link: &str) -> Option<String> {
    let (target, rel) = link.split_once(';')?;
    if !rel.contains("next") {
        return None;
    }
    Some(
        target
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim_start_matches('/')
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_and_links_are_parsed() {
        let (scheme, p) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(scheme, "Bearer");
        assert_eq!(p["realm"], "https://auth.example/token");
        assert_eq!(p["scope"], "repository:a/b:pull,push");
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#).0,
            "Basic"
        );
        assert_eq!(
            link_next(r#"</v2/_catalog?last=b&n=2>; rel="next""#).as_deref(),
            Some("v2/_catalog?last=b&n=2")
        );
        assert_eq!(scope_key("v2/ko/keystone/manifests/latest"), "ko/keystone");
    }
}
