//! What Kubernetes accepts as an API version, a kind, an object name and a namespace,
//! checked before any of them goes into a request path.
//!
//! The rules are the API server's own (`k8s.io/apimachinery/pkg/util/validation`): most
//! names are DNS-1123 subdomains, namespaces DNS-1123 labels, and the RBAC kinds accept
//! any "path segment name" (anything but `.`, `..`, or text holding `/` or `%`). A name
//! such as `../../etc` would otherwise walk the request to another resource.

/// Kinds whose names are validated as path segments only (`system:controller:foo`).
const PATH_SEGMENT_KINDS: &[&str] = &["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"];

/// Why a value is not acceptable, for the message (`` `metadata.name` `x`: ...``).
pub type Invalid = String;

/// `v1` or `group/version`: a DNS-1123 subdomain, `/`, and a DNS-1123 label.
pub fn api_version(text: &str) -> Result<(), Invalid> {
    let (group, version) = match text.split_once('/') {
        Some((g, v)) => (Some(g), v),
        None => (None, text),
    };
    let group_ok = group.is_none_or(is_subdomain);
    if group_ok && is_label(version) {
        Ok(())
    } else {
        Err("an API version is `VERSION` or `GROUP/VERSION` (lowercase letters, digits, `-`, and `.` in the group), e.g. `v1` or `apps/v1`".into())
    }
}

/// A kind: a letter, then letters and digits (`ConfigMap`).
pub fn kind(text: &str) -> Result<(), Invalid> {
    let mut chars = text.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric())
        && text.len() <= 63;
    if ok {
        Ok(())
    } else {
        Err("a kind is a letter followed by letters and digits, e.g. `ConfigMap`".into())
    }
}

/// An object's `metadata.name` for `kind`.
pub fn object_name(kind: &str, name: &str) -> Result<(), Invalid> {
    if PATH_SEGMENT_KINDS.contains(&kind) {
        let ok = !name.is_empty()
            && name != "."
            && name != ".."
            && !name.contains(['/', '%'])
            && !name.chars().any(char::is_control);
        return if ok {
            Ok(())
        } else {
            Err(
                "a name may not be empty, `.` or `..`, nor hold `/`, `%` or control characters"
                    .into(),
            )
        };
    }
    if is_subdomain(name) {
        Ok(())
    } else {
        Err("a Kubernetes name is lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit, at most 253 characters (RFC 1123)".into())
    }
}

/// A namespace: a DNS-1123 label.
pub fn namespace(name: &str) -> Result<(), Invalid> {
    if is_label(name) {
        Ok(())
    } else {
        Err("a namespace is lowercase letters, digits and `-`, starting and ending with a letter or digit, at most 63 characters (RFC 1123 label)".into())
    }
}

/// A DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.len() <= 63
        && b.first().is_some_and(alnum)
        && b.last().is_some_and(alnum)
        && b.iter().all(|c| alnum(c) || *c == b'-')
}

/// A DNS-1123 subdomain: labels joined by `.`, at most 253 characters.
fn is_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_label)
}

/// A name as one path segment of a request URL: percent-encoded, so even a name that
/// slipped past validation (one read back from the server) cannot change the path.
pub fn path_segment(name: &str) -> std::borrow::Cow<'_, str> {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b':');
    match name {
        // `.` and `..` are dot-segments however they are spelled: encode them fully.
        "." => "%2E".into(),
        ".." => "%2E%2E".into(),
        _ => utf8_percent_encode(name, SEGMENT).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions() {
        for ok in [
            "v1",
            "apps/v1",
            "batch/v1beta1",
            "rbac.authorization.k8s.io/v1",
            "x-y.example.com/v2alpha3",
        ] {
            assert!(api_version(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "v 1",
            "v1 ",
            " v1",
            "apps/v1\n",
            "a/b/c",
            "/",
            "/v1",
            "apps/",
            "v1?x=1",
            "v1#x",
            "V1",
            "é/v1",
            "apps//v1",
            "../v1",
            "apps/../v1",
            "v1%2F",
            "-v1",
            "v1-",
        ] {
            assert!(api_version(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn kinds() {
        for ok in ["ConfigMap", "Secret", "V1Thing"] {
            assert!(kind(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Config Map",
            "1Kind",
            "Kind/x",
            "Kind\n",
            "Ki-nd",
            "../Secret",
        ] {
            assert!(kind(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names() {
        let a63 = "a".repeat(63);
        let longest = format!("{a63}.{a63}.{a63}.{}", "a".repeat(61));
        assert_eq!(longest.len(), 253);
        for ok in ["a", "keystone-db-sync", "a.b.c", "0abc", &a63, &longest] {
            assert!(object_name("ConfigMap", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../../etc",
            "..",
            ".",
            "a/b",
            "a b",
            "A",
            "a_b",
            "a?b",
            "a#b",
            "%2e%2e",
            "-a",
            "a-",
            "a..b",
            "é",
            "a\nb",
            &"a".repeat(254),
            "a\u{0}",
        ] {
            assert!(object_name("ConfigMap", bad).is_err(), "{bad:?}");
        }
        assert!(object_name("ClusterRole", "system:controller:x").is_ok());
        for bad in ["..", ".", "a/b", "a%2f", "", "a\nb"] {
            assert!(object_name("ClusterRole", bad).is_err(), "{bad:?}");
        }
        assert!(namespace("openstack").is_ok());
        for bad in ["", "a.b", "A", "../x", "a b"] {
            assert!(namespace(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn path_segments_cannot_change_the_path() {
        assert_eq!(path_segment("keystone-1.a"), "keystone-1.a");
        assert_eq!(path_segment("system:x"), "system:x");
        assert_eq!(path_segment("../../etc"), "..%2F..%2Fetc");
        assert_eq!(path_segment(".."), "%2E%2E");
        assert_eq!(path_segment("a b?c#d%"), "a%20b%3Fc%23d%25");
    }
}
