//! Downloading a template source and keeping it in the cache, keyed by URL, revalidated
//! with its ETag.
//!
//! Cache layout, under the state directory: `cache/templates/<hash of URL>/` holds
//! `source.json` (URL as shown, ETag, content hash, current tree) and one `tree-<content
//! hash>/` per version. A new version is unpacked beside the old one and `source.json` is
//! swapped in last, so a reader sees either the old tree or the new one, never half of one.

use super::archive::{self, UnpackLimits};
use super::{SourceError, Tree};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_download: u64,
    pub unpack: UnpackLimits,
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_download: 32 << 20,
            unpack: UnpackLimits {
                max_bytes: 256 << 20,
                max_entries: 20_000,
            },
            timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Record {
    url: String,
    etag: Option<String>,
    content: String,
    tree: String,
}

/// A URL for messages: no user, password, query string or fragment (any may hold a token).
pub fn shown(url: &Url) -> String {
    let mut url = url.clone();
    // A token often travels as the user name (`https://TOKEN@host/`).
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// The HTTP client of downloads: the limits' timeout for the whole request.
fn client(limits: &Limits) -> Result<reqwest::Client, SourceError> {
    let options = crate::net::HttpOptions {
        timeout: Some(limits.timeout),
        connect_timeout: Duration::from_secs(10).min(limits.timeout),
        ..crate::net::HttpOptions::default()
    };
    crate::net::http_client(&options).map_err(SourceError::Client)
}

/// Fetches `url` (revalidating a cached copy with `If-None-Match`) and returns its tree.
/// When the server cannot be reached and a cached copy exists, that copy is used with
/// a warning rather than failing an offline render.
pub async fn http(url: &Url, cache: &Path, limits: &Limits) -> Result<Tree, SourceError> {
    let entry = cache.join(key(url.as_str()));
    let record = read_record(&entry);
    let client = client(limits)?;
    let mut request = client.get(url.clone());
    if let Some(etag) = record.as_ref().and_then(|r| r.etag.as_deref()) {
        request = request.header(reqwest::header::IF_NONE_MATCH, etag);
    }
    let response = match send(url, request).await {
        Ok(response) => response,
        Err(source) if source.is_connect() || source.is_timeout() => {
            return match cached_tree(&entry, record.as_ref()) {
                Some(mut tree) => {
                    tree.base_url = single_template(&tree).then(|| url.clone());
                    tree.warning = Some(format!(
                        "cannot reach {} ({}); using the cached copy",
                        shown(url),
                        crate::report::one_line(&source.without_url())
                    ));
                    Ok(tree)
                }
                None => Err(SourceError::fetch(url, source)),
            };
        }
        Err(source) => {
            return Err(SourceError::fetch(url, source));
        }
    };
    let status = response.status();
    if status == reqwest::StatusCode::NOT_MODIFIED
        && let Some(mut tree) = cached_tree(&entry, record.as_ref())
    {
        tree.base_url = single_template(&tree).then(|| url.clone());
        return Ok(tree);
    }
    if !status.is_success() {
        return Err(SourceError::Status {
            url: shown(url),
            status: status.as_u16(),
        });
    }
    let etag = response
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let body = read_limited(response, url, limits.max_download).await?;
    let mut tree = store(&entry, url, &shown(url), etag, &body, limits)?;
    tree.base_url = (!body.starts_with(&[0x1f, 0x8b])).then(|| url.clone());
    Ok(tree)
}

/// A `file://` URL or path naming a file: an archive or a single template, cached by
/// content so an unchanged file is not unpacked again.
pub fn file(path: &Path, cache: &Path, limits: &Limits) -> Result<Tree, SourceError> {
    let body = crate::files::read(path).map_err(|source| SourceError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let url = Url::from_file_path(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()))
        .map_err(|()| SourceError::BadUrl(path.display().to_string()))?;
    if body.len() as u64 > limits.max_download {
        return Err(SourceError::TooLarge {
            url: url.to_string(),
            limit: limits.max_download,
        });
    }
    let entry = cache.join(key(url.as_str()));
    store(
        &entry,
        &url,
        &path.display().to_string(),
        None,
        &body,
        limits,
    )
}

/// Sends a GET of `url`, told to the `--debug` trace.
async fn send(
    url: &Url,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, reqwest::Error> {
    let trace = crate::net::trace("GET", url.as_str());
    let result = request.send().await;
    trace.done(match &result {
        Ok(r) => Ok(r.status().as_u16()),
        Err(e) => Err(crate::net::Failure::of(e).to_string()),
    });
    result
}

/// The body of `url` as text, within the download limit (for `include`; not cached on
/// disk, fetched once per render).
pub async fn text(url: &Url, limits: &Limits) -> Result<String, SourceError> {
    let response = send(url, client(limits)?.get(url.clone()))
        .await
        .map_err(|source| SourceError::fetch(url, source))?;
    if !response.status().is_success() {
        return Err(SourceError::Status {
            url: shown(url),
            status: response.status().as_u16(),
        });
    }
    let body = read_limited(response, url, limits.max_download).await?;
    String::from_utf8(body).map_err(|_| SourceError::NotText(shown(url)))
}

async fn read_limited(
    mut response: reqwest::Response,
    url: &Url,
    limit: u64,
) -> Result<Vec<u8>, SourceError> {
    let too_large = || SourceError::TooLarge {
        url: shown(url),
        limit,
    };
    if response.content_length().is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|source| SourceError::fetch(url, source))?
    {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Makes `body` the current version of the cache entry, unpacking it unless the same
/// content is already there.
fn store(
    entry: &Path,
    url: &Url,
    display: &str,
    etag: Option<String>,
    body: &[u8],
    limits: &Limits,
) -> Result<Tree, SourceError> {
    let content = hex(&Sha256::digest(body))[..16].to_string();
    let tree_name = format!("tree-{content}");
    let tree_dir = entry.join(&tree_name);
    let io = |source| SourceError::Cache {
        path: entry.to_path_buf(),
        source,
    };
    if !is_real_dir(&tree_dir) {
        std::fs::create_dir_all(entry).map_err(io)?;
        // Whatever stands in the way (a link, a file) is not a tree this cache made.
        let _ = std::fs::remove_file(&tree_dir);
        let staging = tempfile::Builder::new()
            .prefix(".unpack-")
            .tempdir_in(entry)
            .map_err(io)?;
        if body.starts_with(&[0x1f, 0x8b]) {
            archive::unpack(body, staging.path(), limits.unpack).map_err(|source| {
                SourceError::Archive {
                    url: display.to_string(),
                    source,
                }
            })?;
        } else {
            std::fs::write(staging.path().join(single_template_name(url)), body).map_err(io)?;
        }
        std::fs::rename(staging.keep(), &tree_dir).map_err(io)?;
    }
    let record = Record {
        url: display.to_string(),
        etag,
        content,
        tree: tree_name.clone(),
    };
    let mut json = tempfile::NamedTempFile::new_in(entry).map_err(io)?;
    serde_json::to_writer_pretty(&mut json, &record).expect("a record serialises");
    json.persist(entry.join("source.json"))
        .map_err(|e| io(e.error))?;
    remove_other_trees(entry, &tree_name);
    Ok(tree_of(&tree_dir, display))
}

/// The name a single downloaded template gets: the URL's file name when it is a template.
fn single_template_name(url: &Url) -> String {
    let last = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or_default();
    let decoded = percent_encoding::percent_decode_str(last)
        .decode_utf8_lossy()
        .into_owned();
    if !decoded.is_empty() && !decoded.contains('/') && super::is_template(Path::new(&decoded)) {
        decoded
    } else {
        "template.yaml".into()
    }
}

fn cached_tree(entry: &Path, record: Option<&Record>) -> Option<Tree> {
    let record = record?;
    let dir = entry.join(&record.tree);
    is_real_dir(&dir).then(|| tree_of(&dir, &record.url))
}

/// A directory itself, not a link to one.
fn is_real_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// A tree made of one top-level directory (as `tar -c kubernetes-in` makes) is rooted
/// there, so the templates are found whichever way the archive was made.
fn tree_of(dir: &Path, display: &str) -> Tree {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    let root = match entries.as_slice() {
        [only] if is_real_dir(only) => only.clone(),
        _ => dir.to_path_buf(),
    };
    Tree {
        root,
        display: display.to_string(),
        warning: None,
        base_url: None,
        origin: super::Origin::Downloaded,
    }
}

/// Whether a cached tree is one downloaded template rather than an unpacked archive.
fn single_template(tree: &Tree) -> bool {
    std::fs::read_dir(&tree.root)
        .map(|rd| rd.count() == 1)
        .unwrap_or(false)
        && std::fs::read_dir(&tree.root)
            .into_iter()
            .flatten()
            .flatten()
            .all(|e| e.path().is_file())
}

/// The cache record of `entry`, if it names one of the entry's own tree directories. A
/// record edited to name another place (`../../etc`, `/home`) is ignored, so the cache
/// can only ever hand out a tree it unpacked itself.
fn read_record(entry: &Path) -> Option<Record> {
    let record: Record =
        serde_json::from_slice(&std::fs::read(entry.join("source.json")).ok()?).ok()?;
    is_tree_name(&record.tree).then_some(record)
}

/// `tree-` and the 16 hex digits of a content hash, as [`store`] names them.
fn is_tree_name(name: &str) -> bool {
    name.strip_prefix("tree-")
        .is_some_and(|hash| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn remove_other_trees(entry: &Path, keep: &str) {
    let Ok(dir) = std::fs::read_dir(entry) else {
        return;
    };
    for e in dir.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("tree-") && name != keep {
            // Best effort: an old version left behind costs disk space, nothing else.
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn key(url: &str) -> String {
    hex(&Sha256::digest(url.as_bytes()))[..24].to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
