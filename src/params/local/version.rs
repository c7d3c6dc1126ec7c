//! `heat_template_version`: which HOT versions we accept and which intrinsic
//! functions each one offers (Heat decides per version, so we must too: a
//! function from a later version is plain data to an older Heat).

use std::fmt;

/// HOT versions with `conditions` and `if` (2016-10-14 and later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Version {
    Newton,
    Ocata,
    Pike,
    Queens,
    Rocky,
    Wallaby,
}

const VERSIONS: &[(Version, &str, &str)] = &[
    (Version::Newton, "2016-10-14", "newton"),
    (Version::Ocata, "2017-02-24", "ocata"),
    (Version::Pike, "2017-09-01", "pike"),
    (Version::Queens, "2018-03-02", "queens"),
    (Version::Rocky, "2018-08-31", "rocky"),
    (Version::Wallaby, "2021-04-16", "wallaby"),
];

/// Versions Heat knows but that predate `conditions` and `if`.
const TOO_OLD: &[&str] = &[
    "2013-05-23",
    "2014-10-16",
    "2015-04-30",
    "2015-10-15",
    "2016-04-08",
    "juno",
    "kilo",
    "liberty",
    "mitaka",
];

impl Version {
    /// Parse the value of `heat_template_version`; the error is the message.
    pub(crate) fn parse(text: &str) -> Result<Version, String> {
        if let Some((v, _, _)) = VERSIONS.iter().find(|(_, d, n)| *d == text || *n == text) {
            return Ok(*v);
        }
        if TOO_OLD.contains(&text) {
            return Err(format!(
                "`heat_template_version` `{text}` is too old: local evaluation needs 2016-10-14 (newton) or later, which added `conditions` and `if`"
            ));
        }
        let known: Vec<String> = VERSIONS
            .iter()
            .map(|(_, d, n)| format!("{d} ({n})"))
            .collect();
        Err(format!(
            "unknown `heat_template_version` `{text}`; supported: {}",
            known.join(", ")
        ))
    }

    pub(crate) fn date(self) -> &'static str {
        VERSIONS
            .iter()
            .find(|(v, _, _)| *v == self)
            .map(|(_, d, _)| *d)
            .unwrap_or("?")
    }

    /// How `name` behaves as the single key of a map in this version.
    pub(crate) fn function(self, name: &str) -> FnStatus {
        if let Some((f, since)) = FUNCTIONS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, f, s)| (*f, *s))
        {
            return if self >= since {
                FnStatus::Available(f)
            } else {
                FnStatus::Later(since)
            };
        }
        if REMOVED.contains(&name) {
            return FnStatus::Removed;
        }
        FnStatus::NotAFunction
    }

    /// Functions allowed inside condition definitions.
    pub(crate) fn condition_function(self, name: &str) -> Option<CondFn> {
        match name {
            "get_param" => Some(CondFn::GetParam),
            "equals" => Some(CondFn::Equals),
            "not" => Some(CondFn::Not),
            "and" => Some(CondFn::And),
            "or" => Some(CondFn::Or),
            "contains" if self >= Version::Pike => Some(CondFn::Contains),
            "yaql" if self >= Version::Pike => Some(CondFn::Yaql),
            _ => None,
        }
    }

    /// `repeat` gained `permutations` in 2017-09-01.
    pub(crate) fn repeat_has_permutations(self) -> bool {
        self >= Version::Pike
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.date())
    }
}

/// Intrinsic functions of HOT (outside condition definitions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    GetAttr,
    GetFile,
    GetParam,
    GetResource,
    ListJoin,
    Repeat,
    ResourceFacade,
    StrReplace,
    Digest,
    StrSplit,
    MapMerge,
    Yaql,
    MapReplace,
    If,
    Filter,
    StrReplaceStrict,
    MakeUrl,
    ListConcat,
    StrReplaceVstrict,
    ListConcatUnique,
    Contains,
}

/// Functions allowed in `conditions` (and as the condition of `if`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CondFn {
    GetParam,
    Equals,
    Not,
    And,
    Or,
    Contains,
    Yaql,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FnStatus {
    Available(Func),
    /// A HOT function, but only from a later version.
    Later(Version),
    /// A CloudFormation-era function that HOT dropped.
    Removed,
    NotAFunction,
}

const FUNCTIONS: &[(&str, Func, Version)] = &[
    ("get_attr", Func::GetAttr, Version::Newton),
    ("get_file", Func::GetFile, Version::Newton),
    ("get_param", Func::GetParam, Version::Newton),
    ("get_resource", Func::GetResource, Version::Newton),
    ("list_join", Func::ListJoin, Version::Newton),
    ("repeat", Func::Repeat, Version::Newton),
    ("resource_facade", Func::ResourceFacade, Version::Newton),
    ("str_replace", Func::StrReplace, Version::Newton),
    ("digest", Func::Digest, Version::Newton),
    ("str_split", Func::StrSplit, Version::Newton),
    ("map_merge", Func::MapMerge, Version::Newton),
    ("yaql", Func::Yaql, Version::Newton),
    ("map_replace", Func::MapReplace, Version::Newton),
    ("if", Func::If, Version::Newton),
    ("filter", Func::Filter, Version::Ocata),
    ("str_replace_strict", Func::StrReplaceStrict, Version::Ocata),
    ("make_url", Func::MakeUrl, Version::Pike),
    ("list_concat", Func::ListConcat, Version::Pike),
    (
        "str_replace_vstrict",
        Func::StrReplaceVstrict,
        Version::Pike,
    ),
    ("list_concat_unique", Func::ListConcatUnique, Version::Pike),
    ("contains", Func::Contains, Version::Pike),
];

const REMOVED: &[&str] = &[
    "Fn::GetAZs",
    "Fn::Join",
    "Fn::Split",
    "Fn::Replace",
    "Fn::Base64",
    "Fn::MemberListToMap",
    "Fn::ResourceFacade",
    "Fn::Select",
    "Ref",
];

/// Heat treats a single-key map whose key is no function as data. A key that
/// merely looks like a function is almost always a typo that would silently put
/// a map where a password belongs, so we refuse those.
pub(crate) fn looks_like_function(key: &str) -> bool {
    ["get_", "str_", "list_", "map_", "Fn::"]
        .iter()
        .any(|p| key.starts_with(p))
}

impl Func {
    pub(crate) fn name(self) -> &'static str {
        FUNCTIONS
            .iter()
            .find(|(_, f, _)| *f == self)
            .map(|(n, _, _)| *n)
            .unwrap_or("?")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dates_and_release_names_from_newton_on() {
        assert_eq!(Version::parse("2016-10-14"), Ok(Version::Newton));
        assert_eq!(Version::parse("rocky"), Ok(Version::Rocky));
        assert_eq!(Version::parse("wallaby"), Ok(Version::Wallaby));
        assert_eq!(Version::parse("2021-04-16"), Ok(Version::Wallaby));
    }

    #[test]
    fn refuses_versions_without_conditions_and_unknown_ones() {
        let old = Version::parse("2015-10-15").unwrap_err();
        assert!(
            old.contains("too old") && old.contains("2016-10-14"),
            "{old}"
        );
        let unknown = Version::parse("2030-01-01").unwrap_err();
        assert!(
            unknown.contains("unknown") && unknown.contains("wallaby"),
            "{unknown}"
        );
    }

    #[test]
    fn functions_appear_in_the_version_that_added_them() {
        assert_eq!(
            Version::Newton.function("contains"),
            FnStatus::Later(Version::Pike)
        );
        assert_eq!(
            Version::Pike.function("contains"),
            FnStatus::Available(Func::Contains)
        );
        assert_eq!(Version::Rocky.function("Ref"), FnStatus::Removed);
        assert_eq!(Version::Rocky.function("equals"), FnStatus::NotAFunction);
        assert_eq!(Version::Newton.condition_function("contains"), None);
    }
}
