//! The `include` helper: the text of another file or URL, rendered with the same
//! parameters when it is itself a template (InfraKit's `include`).
//!
//! `{{include "scripts/start.sh"}}` reads a file of the template tree (paths may not
//! leave it: a downloaded tree must not pull local files into the output);
//! `{{include "https://..."}}` downloads, with the template sources' timeout and size
//! limit. When the tree itself came from the URL of a single template, relative names
//! resolve against that URL. Like any value, the result is escaped for where the
//! placeholder sits; `{{{include ...}}}` or `indent` put it in as YAML instead.

use super::helpers::{self, Problem};
use crate::sources::links::{Landing, land};
use crate::sources::{self, Limits, Origin};
use handlebars::{
    Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, RenderErrorReason,
    ScopedJson,
};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use url::Url;

/// How deep includes may nest (an included file including another, and so on).
const MAX_DEPTH: usize = 16;

/// Where `include` looks, shared by every template of one render.
#[derive(Debug)]
pub struct Includes {
    root: PathBuf,
    base_url: Option<Url>,
    origin: Origin,
    limits: Limits,
    /// Each URL is fetched once per render, however many templates include it.
    fetched: Mutex<HashMap<String, Result<String, String>>>,
    /// Local files read through a link leading outside the tree.
    warnings: Mutex<Vec<String>>,
}

/// Where the text being rendered came from: what its relative names resolve against,
/// and what it may read.
#[derive(Debug, Clone)]
enum Base {
    /// A file of the template tree.
    Tree,
    /// A downloaded text: relative names are URLs beside it; never a local file.
    Url(Url),
}

impl Includes {
    pub fn new(root: PathBuf, base_url: Option<Url>, origin: Origin, limits: Limits) -> Includes {
        Includes {
            root,
            base_url,
            origin,
            limits,
            fetched: Mutex::new(HashMap::new()),
            warnings: Mutex::new(Vec::new()),
        }
    }

    /// Warnings gathered during the render (local files read through links leading out).
    pub fn warnings(&self) -> Vec<String> {
        let mut w = std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|e| e.into_inner()));
        w.sort();
        w.dedup();
        w
    }

    /// What `name` names, seen from text that came from `base`: a URL, or a path of the tree.
    fn locate(&self, name: &str, base: &Base) -> Result<Target, String> {
        let url = match (absolute_url(name), base) {
            (Some(url), _) => Some(url),
            (None, Base::Url(base)) => Some(
                base.join(name)
                    .map_err(|e| format!("`{name}` is not a path or URL: {e}"))?,
            ),
            (None, Base::Tree) => None,
        };
        let Some(url) = url else {
            let rel = crate::sources::archive::inside(Path::new(name))
                .filter(|rel| !rel.as_os_str().is_empty())
                .ok_or_else(|| format!("`{name}` is outside the template tree"))?;
            return Ok(Target::Tree(rel));
        };
        match url.scheme() {
            "http" | "https" => Ok(Target::Url(url)),
            // A local file, for the user's own templates only: a downloaded template (or a
            // text it includes) must not copy local files, such as the state directory,
            // into the output.
            "file" if self.origin == Origin::Local && matches!(base, Base::Tree) => {
                Ok(Target::File(url))
            }
            "file" => Err(format!(
                "`{}` is a local file; a downloaded template may include only from its own tree or the network",
                sources::fetch::shown(&url)
            )),
            other => Err(format!("`{other}:` URLs cannot be included")),
        }
    }

    /// The text of `target`.
    fn load(&self, target: &Target) -> Result<String, String> {
        match target {
            Target::Url(url) => self.fetch(url),
            Target::File(url) => url
                .to_file_path()
                .map_err(|()| format!("`{url}` is not a local path"))
                .and_then(|p| {
                    not_special(&p, &p.display().to_string())?;
                    std::fs::read_to_string(&p)
                        .map_err(|e| format!("cannot read `{}`: {e}", p.display()))
                }),
            Target::Tree(rel) => self.read_tree_file(rel),
        }
    }

    /// A file of the tree, judged by where it really is once links are followed.
    fn read_tree_file(&self, rel: &Path) -> Result<String, String> {
        let shown = rel.display();
        match land(&self.root, rel) {
            Ok(Landing::Inside(_)) | Ok(Landing::Loop) | Err(_) => {}
            Ok(Landing::Outside(real)) => match self.origin {
                Origin::Downloaded => {
                    return Err(format!(
                        "`{shown}` is a link leading outside the template tree (to `{}`)",
                        real.display()
                    ));
                }
                Origin::Local => self
                    .warnings
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(format!(
                        "included `{shown}` is a link leading outside the template tree, to `{}`; it is read from there",
                        real.display()
                    )),
            },
        }
        not_special(&self.root.join(rel), &shown.to_string())?;
        let bytes = std::fs::read(self.root.join(rel))
            .map_err(|e| format!("cannot read `{shown}`: {e}"))?;
        String::from_utf8(bytes).map_err(|e| {
            format!(
                "`{shown}` is not UTF-8 text (byte {})",
                e.utf8_error().valid_up_to()
            )
        })
    }

    fn fetch(&self, url: &Url) -> Result<String, String> {
        let key = url.as_str().to_string();
        let cache = || self.fetched.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(done) = cache().get(&key) {
            return done.clone();
        }
        let result = crate::rt::block_on(sources::fetch::text(url, &self.limits))
            .map_err(|e| crate::report::one_line(&e));
        cache().insert(key, result.clone());
        result
    }
}

/// Refuses a FIFO, socket or device (once links are followed): reading one could wait
/// or go on forever.
fn not_special(path: &Path, shown: &str) -> Result<(), String> {
    match std::fs::metadata(path).map(|m| crate::files::special_kind(m.file_type())) {
        Ok(Some(kind)) => Err(format!("`{shown}` is a {kind}, not a file")),
        _ => Ok(()),
    }
}

/// What an `include` names, once located.
enum Target {
    Tree(PathBuf),
    File(Url),
    Url(Url),
}

impl Target {
    /// How the include chain shows it (a URL without its password or query).
    fn shown(&self) -> String {
        match self {
            Target::Tree(rel) => rel.display().to_string(),
            Target::File(url) | Target::Url(url) => sources::fetch::shown(url),
        }
    }

    /// What the included text's own relative names resolve against.
    fn base(&self, outer: &Base) -> Base {
        match self {
            Target::Url(url) => Base::Url(url.clone()),
            Target::Tree(_) | Target::File(_) => outer.clone(),
        }
    }
}

fn absolute_url(name: &str) -> Option<Url> {
    let lower = name.to_ascii_lowercase();
    ["http://", "https://", "file://"]
        .iter()
        .any(|s| lower.starts_with(s))
        .then(|| Url::parse(name).ok())
        .flatten()
}

/// The `include` helper of one text: a template of the tree, or an included text.
pub struct IncludeHelper {
    includes: Arc<Includes>,
    base: Base,
    /// The includes that led here, outermost first (for loops and the depth limit).
    chain: Vec<String>,
}

impl IncludeHelper {
    /// The helper for the templates of the tree.
    pub fn new(includes: Arc<Includes>) -> IncludeHelper {
        let base = includes.base_url.clone().map_or(Base::Tree, Base::Url);
        IncludeHelper {
            includes,
            base,
            chain: Vec::new(),
        }
    }
}

fn fail(message: String) -> Result<ScopedJson<'static>, RenderError> {
    helpers::pend(Problem::Invalid(message));
    Ok(ScopedJson::Derived(Json::Null))
}

impl HelperDef for IncludeHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let Some(name) = h.param(0).and_then(|p| p.value().as_str()) else {
            return fail("`include` expects a path or URL in quotes".into());
        };
        let target = match self.includes.locate(name, &self.base) {
            Ok(target) => target,
            Err(why) => return fail(format!("`include {}`: {why}", redact(name))),
        };
        let shown = target.shown();
        let mut chain = self.chain.clone();
        chain.push(shown.clone());
        if self.chain.contains(&shown) {
            return fail(format!(
                "`include {}` includes itself: {}",
                redact(name),
                chain.join(" -> ")
            ));
        }
        if chain.len() > MAX_DEPTH {
            return fail(format!(
                "includes nested more than {MAX_DEPTH} deep: {}",
                chain.join(" -> ")
            ));
        }
        helpers::expand(&shown)?;
        let text = match self.includes.load(&target) {
            Ok(text) => text,
            Err(why) => return fail(format!("`include {}`: {why}", redact(name))),
        };
        if !text.contains("{{") {
            return Ok(ScopedJson::Derived(Json::String(text)));
        }
        if let Ok(tags) = super::tags::scan(&text)
            && super::tags::reserved_use(&text, &tags).is_some()
        {
            return fail(format!(
                "`include {}`: names starting with `{}` are the renderer's own helpers; an included text cannot use them",
                redact(name),
                super::tags::RESERVED_PREFIX
            ));
        }
        // An included template sees the same parameters; a missing one is an error
        // naming the included file, as in the templates themselves.
        let mut nested = Handlebars::new();
        nested.set_strict_mode(true);
        nested.register_escape_fn(handlebars::no_escape);
        helpers::register(&mut nested, Arc::new(Vec::new()));
        nested.register_helper(
            "include",
            Box::new(IncludeHelper {
                includes: self.includes.clone(),
                base: target.base(&self.base),
                chain,
            }),
        );
        match nested.render_template(&text, ctx.data()) {
            Ok(rendered) => Ok(ScopedJson::Derived(Json::String(rendered))),
            // The whole template stops, reported once at its own `include`.
            Err(e) if helpers::expansions_exhausted() => {
                Err(RenderErrorReason::Other(e.reason().to_string()).into())
            }
            Err(e) => fail(format!("`include {}`: {}", redact(name), e.reason())),
        }
    }
}

/// `name` as messages show it: a URL without its password or query string.
fn redact(name: &str) -> String {
    match Url::parse(name) {
        Ok(url) if url.has_host() => sources::fetch::shown(&url),
        _ => name.to_string(),
    }
}
