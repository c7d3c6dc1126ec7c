//! Values derived after any source, as the 2014 tool did: `swift_siteurl` is URL-decoded,
//! and the last two segments of its path name the Swift container and tenant.

use super::{Origin, ParamSet};
use serde_json::Value as Json;

/// Fills in derived parameters the source did not give itself.
pub fn complete(set: &mut ParamSet) {
    let Some(Json::String(url)) = set.values.get("swift_siteurl").map(|p| p.value.clone()) else {
        return;
    };
    let decoded = percent_encoding::percent_decode_str(&url)
        .decode_utf8_lossy()
        .into_owned();
    let secret = set.values["swift_siteurl"].secret;
    set.insert(
        "swift_siteurl",
        Json::String(decoded.clone()),
        secret,
        set.values["swift_siteurl"].origin,
    );
    let path = decoded
        .split_once("://")
        .map_or(decoded.as_str(), |(_, rest)| rest);
    let path = path.split(['?', '#']).next().unwrap_or("");
    let segments: Vec<&str> = path.split('/').skip(1).filter(|s| !s.is_empty()).collect();
    let mut segments = segments.into_iter().rev();
    let derived = [
        ("swift_container", segments.next()),
        ("swift_tenant_name", segments.next()),
    ];
    for (name, value) in derived {
        if let Some(v) = value
            && !set.values.contains_key(name)
        {
            set.insert(name, Json::String(v.to_string()), false, Origin::Derived);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_siteurl(url: &str) -> ParamSet {
        let mut set = ParamSet::default();
        set.insert("swift_siteurl", json!(url), false, Origin::Heat);
        complete(&mut set);
        set
    }

    #[test]
    fn container_and_tenant_come_from_the_last_two_segments() {
        let set = with_siteurl("http://swift%3A8080/v1/AUTH%5Ftenant/my%20registry?x=1");
        assert_eq!(
            set.values["swift_siteurl"].value,
            json!("http://swift:8080/v1/AUTH_tenant/my registry?x=1")
        );
        assert_eq!(set.values["swift_container"].value, json!("my registry"));
        assert_eq!(set.values["swift_tenant_name"].value, json!("AUTH_tenant"));
        assert_eq!(set.values["swift_container"].origin, Origin::Derived);
    }

    #[test]
    fn values_given_by_the_source_are_kept() {
        let mut set = ParamSet::default();
        set.insert(
            "swift_siteurl",
            json!("http://h/v1/t/c"),
            false,
            Origin::Heat,
        );
        set.insert("swift_container", json!("mine"), false, Origin::Override);
        complete(&mut set);
        assert_eq!(set.values["swift_container"].value, json!("mine"));
        assert_eq!(set.values["swift_tenant_name"].value, json!("t"));
    }

    #[test]
    fn no_siteurl_derives_nothing() {
        let mut set = ParamSet::default();
        complete(&mut set);
        assert!(set.values.is_empty());
    }
}
