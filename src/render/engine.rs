//! Compiles and renders one template at a time with Handlebars, after the YAML pre-pass.
//!
//! Templates are compiled and rendered one by one rather than registered all at once, so
//! memory stays flat however large the tree is, and files render in parallel.

use super::helpers::{self, FileTable, Located, Problem};
use super::prepass;
use super::Diagnostic;
use handlebars::{Handlebars, RenderContext, Renderable, Template};
use std::sync::Arc;

/// A template as read from the input tree.
pub struct Source {
    /// The path shown in messages, e.g. `kubernetes-in/keystone-rc.yaml`.
    pub display: String,
    pub text: String,
}

/// The result of rendering one template.
pub struct Rendered {
    pub text: String,
    /// Names the template refers to, for the unused-parameter check.
    pub names: Vec<String>,
}

pub struct Engine {
    registry: Handlebars<'static>,
}

impl Engine {
    /// Prepares the partials (`name` -> source) and registers the helpers.
    pub fn new(partials: &[(String, Source)]) -> Result<(Engine, Vec<String>), Vec<Diagnostic>> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(false);
        registry.register_escape_fn(handlebars::no_escape);
        let mut tables = Vec::new();
        let mut names = Vec::new();
        let mut errors = Vec::new();
        for (i, (name, src)) in partials.iter().enumerate() {
            match prepass::prepare(&src.text, i + 1) {
                Ok(p) => {
                    if let Err(e) = registry.register_partial(name, &p.text) {
                        errors.push(template_error(&src.display, &e));
                    }
                    tables.push(FileTable { path: src.display.as_str().into(), placeholders: p.placeholders });
                    names.extend(p.names);
                }
                Err(e) => {
                    errors.push(Diagnostic::at(&src.display, e.line, e.column, e.message));
                    tables.push(FileTable { path: src.display.as_str().into(), placeholders: Vec::new() });
                }
            }
        }
        helpers::register(&mut registry, Arc::new(tables));
        if errors.is_empty() { Ok((Engine { registry }, names)) } else { Err(errors) }
    }

    /// Renders one template against `data`; every problem in it is reported at once.
    pub fn render(&self, src: &Source, data: &handlebars::Context) -> Result<Rendered, Vec<Diagnostic>> {
        let prepared =
            prepass::prepare(&src.text, 0).map_err(|e| vec![Diagnostic::at(&src.display, e.line, e.column, e.message)])?;
        let template = Template::compile_with_name(&prepared.text, src.display.clone())
            .map_err(|e| vec![template_error(&src.display, &e)])?;
        let table = Arc::new(FileTable { path: src.display.as_str().into(), placeholders: prepared.placeholders });
        let (result, found) = helpers::with_current(table, || {
            let mut rc = RenderContext::new(None);
            template.renders(&self.registry, data, &mut rc)
        });
        let mut diagnostics: Vec<Diagnostic> = found.into_iter().map(Diagnostic::from).collect();
        match result {
            Ok(text) if diagnostics.is_empty() => Ok(Rendered { text, names: prepared.names }),
            Ok(_) => Err(diagnostics),
            Err(e) => {
                // Lines survive the pre-pass unchanged; columns may not, so only the line is given.
                let line = e.line_no.unwrap_or(0);
                diagnostics.push(Diagnostic::at(&src.display, line, 0, e.reason().to_string()));
                Err(diagnostics)
            }
        }
    }
}

fn template_error(display: &str, e: &handlebars::TemplateError) -> Diagnostic {
    Diagnostic::at(display, e.pos().map_or(0, |(l, _)| l), 0, format!("invalid Handlebars: {}", e.reason()))
}

impl From<Located> for Diagnostic {
    fn from(l: Located) -> Self {
        let message = match l.problem {
            Problem::Missing(name) if name.is_empty() => "a value used here is not defined".to_string(),
            Problem::Missing(name) => format!("parameter `{name}` is not defined"),
            Problem::Required(message) => message,
            Problem::Invalid(message) => message,
        };
        Diagnostic::at(&l.file, l.line, l.column, message)
    }
}
