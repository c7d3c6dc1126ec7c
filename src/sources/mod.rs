//! Where the template tree comes from: a local directory, or a `file://` / `http(s)://`
//! URL naming a `.tar.gz` of a tree or a single template (downloaded with TLS
//! verification, a timeout and a size limit, unpacked safely, cached by URL + ETag).

pub mod archive;
pub mod fetch;
pub mod links;

pub use fetch::Limits;
use std::path::{Path, PathBuf};
use url::Url;

/// Whether a file of a tree is a template (rendered), rather than a file copied as it is.
pub fn is_template(rel: &Path) -> bool {
    matches!(
        rel.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// A template tree ready to scan.
#[derive(Debug, Clone)]
pub struct Tree {
    /// Directory holding the templates (the input directory itself, or the cache).
    pub root: PathBuf,
    /// What messages call the tree: the directory or the URL (without secrets).
    pub display: String,
    /// Set when a cached copy stood in for a server that could not be reached.
    pub warning: Option<String>,
    /// The URL of a single downloaded template: what its relative `include`s resolve against.
    pub base_url: Option<Url>,
    pub origin: Origin,
}

/// Whose tree it is, which decides what its links and `include`s may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The user's own directory: a link leading outside it is followed, with a warning
    /// (trees often link shared files from beside them); `include` may name `file://` URLs.
    Local,
    /// Unpacked from a download or an archive: nothing outside the tree is read, neither
    /// through a link nor by `include` (only the tree itself and the network).
    Downloaded,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(
        "`{0}` is not a usable template source (a directory, file://, http:// or https:// URL)"
    )]
    BadUrl(String),
    #[error("cannot download {url}")]
    Fetch {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error(transparent)]
    Client(crate::net::HttpError),
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} is larger than the {limit}-byte download limit")]
    TooLarge { url: String, limit: u64 },
    #[error("cannot unpack {url}")]
    Archive {
        url: String,
        #[source]
        source: archive::ArchiveError,
    },
    #[error("{0} is not UTF-8 text")]
    NotText(String),
    #[error("cannot read `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot update the template cache in `{path}`")]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SourceError {
    /// A download error; reqwest's message names the URL in full (password, token in the
    /// query), so the URL is left out of it and shown only as [`fetch::shown`] gives it.
    pub fn fetch(url: &Url, source: reqwest::Error) -> SourceError {
        SourceError::Fetch {
            url: fetch::shown(url),
            source: source.without_url(),
        }
    }
}

impl crate::report::Hint for SourceError {
    fn hint(&self) -> Option<String> {
        match self {
            SourceError::Fetch { source, .. } if is_tls(source) => Some(
                "the server's certificate was not accepted: install its CA in the system trust store".into(),
            ),
            SourceError::Archive { .. } => Some("the archive must hold only files, directories and links inside the tree".into()),
            SourceError::TooLarge { .. } => Some("template trees are small: check the URL names the right file".into()),
            _ => None,
        }
    }
}

fn is_tls(err: &reqwest::Error) -> bool {
    let mut cause: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = cause {
        let text = e.to_string().to_ascii_lowercase();
        if text.contains("certificate") || text.contains("tls") {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Resolves an input given as a directory, a file, or a URL into a tree on disk;
/// downloads and archives go through the cache under `cache`.
pub fn resolve(input: &str, cache: &Path, limits: &Limits) -> Result<Tree, SourceError> {
    let lower = input.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        let url = Url::parse(input).map_err(|_| SourceError::BadUrl(crate::redact::urls(input)))?;
        return crate::rt::block_on(fetch::http(&url, cache, limits));
    }
    let path = if lower.starts_with("file://") {
        let url = Url::parse(input).map_err(|_| SourceError::BadUrl(crate::redact::urls(input)))?;
        url.to_file_path()
            .map_err(|()| SourceError::BadUrl(crate::redact::urls(input)))?
    } else if lower.contains("://") {
        return Err(SourceError::BadUrl(crate::redact::urls(input)));
    } else {
        PathBuf::from(input)
    };
    if path.is_file() {
        return fetch::file(&path, cache, limits);
    }
    // A directory, or a missing path (the render reports that with its own message).
    Ok(Tree {
        root: path,
        display: input.to_string(),
        warning: None,
        base_url: None,
        origin: Origin::Local,
    })
}
