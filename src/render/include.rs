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
use crate::sources::{self, Limits};
use handlebars::{Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, ScopedJson};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use url::Url;

/// Where `include` looks, shared by every template of one render.
#[derive(Debug)]
pub struct Includes {
    root: PathBuf,
    base_url: Option<Url>,
    limits: Limits,
    /// Each URL is fetched once per render, however many templates include it.
    fetched: Mutex<HashMap<String, Result<String, String>>>,
}

impl Includes {
    pub fn new(root: PathBuf, base_url: Option<Url>, limits: Limits) -> Includes {
        Includes {
            root,
            base_url,
            limits,
            fetched: Mutex::new(HashMap::new()),
        }
    }

    /// The text named by `name`, or a message saying what and where it failed.
    fn load(&self, name: &str) -> Result<String, String> {
        if let Some(url) = absolute_url(name) {
            return self.fetch(&url);
        }
        if let Some(base) = &self.base_url {
            let url = base
                .join(name)
                .map_err(|e| format!("`{name}` is not a path or URL: {e}"))?;
            return self.fetch(&url);
        }
        let rel = crate::sources::archive::inside(Path::new(name))
            .filter(|rel| !rel.as_os_str().is_empty())
            .ok_or_else(|| format!("`{name}` is outside the template tree"))?;
        let path = self.root.join(&rel);
        let bytes =
            std::fs::read(&path).map_err(|e| format!("cannot read `{}`: {e}", rel.display()))?;
        String::from_utf8(bytes).map_err(|_| format!("`{}` is not UTF-8 text", rel.display()))
    }

    fn fetch(&self, url: &Url) -> Result<String, String> {
        let key = url.as_str().to_string();
        if let Some(done) = self.fetched.lock().expect("no panic while held").get(&key) {
            return done.clone();
        }
        let result = match url.scheme() {
            "http" | "https" => crate::rt::block_on(sources::fetch::text(url, &self.limits))
                .map_err(|e| crate::report::one_line(&e)),
            "file" => url
                .to_file_path()
                .map_err(|()| format!("`{url}` is not a local path"))
                .and_then(|p| {
                    std::fs::read_to_string(&p)
                        .map_err(|e| format!("cannot read `{}`: {e}", p.display()))
                }),
            other => Err(format!("`{other}:` URLs cannot be included")),
        };
        self.fetched
            .lock()
            .expect("no panic while held")
            .insert(key, result.clone());
        result
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

pub struct IncludeHelper(pub Arc<Includes>);

impl HelperDef for IncludeHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let Some(name) = h.param(0).and_then(|p| p.value().as_str()) else {
            helpers::pend(Problem::Invalid(
                "`include` expects a path or URL in quotes".into(),
            ));
            return Ok(ScopedJson::Derived(Json::Null));
        };
        let text = match self.0.load(name) {
            Ok(text) => text,
            Err(why) => {
                helpers::pend(Problem::Invalid(format!("`include {name}`: {why}")));
                return Ok(ScopedJson::Derived(Json::Null));
            }
        };
        if !text.contains("{{") {
            return Ok(ScopedJson::Derived(Json::String(text)));
        }
        // An included template sees the same parameters; a missing one is an error
        // naming the included file, as in the templates themselves.
        let mut nested = Handlebars::new();
        nested.set_strict_mode(true);
        nested.register_escape_fn(handlebars::no_escape);
        helpers::register(&mut nested, Arc::new(Vec::new()));
        nested.register_helper("include", Box::new(IncludeHelper(self.0.clone())));
        match nested.render_template(&text, ctx.data()) {
            Ok(rendered) => Ok(ScopedJson::Derived(Json::String(rendered))),
            Err(e) => {
                helpers::pend(Problem::Invalid(format!(
                    "`include {name}`: {}",
                    e.reason()
                )));
                Ok(ScopedJson::Derived(Json::Null))
            }
        }
    }
}
