//! Compiles and renders one template at a time with Handlebars, after the YAML pre-pass.
//!
//! Templates are compiled and rendered one by one rather than registered all at once, so
//! memory stays flat however large the tree is, and files render in parallel.

use super::Diagnostic;
use super::helpers::{self, FileTable, Located, Problem};
use super::prepass;
use super::proof;
use super::proofs::Proofs;
use handlebars::{Handlebars, RenderContext, Renderable};
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
    /// The identity of each document, when the template's proof covers this render (see
    /// [`proof`]): its text needs no parse.
    pub proven: Option<Vec<Option<proof::Ident>>>,
}

pub struct Engine {
    registry: Handlebars<'static>,
    /// Render plain-value templates without Handlebars (off only to test they agree).
    direct: bool,
}

impl Engine {
    /// Prepares the partials (`name` -> source) and registers the helpers.
    pub fn new(
        partials: &[(String, Source)],
        includes: Option<Arc<super::include::Includes>>,
    ) -> Result<(Engine, Vec<String>), Vec<Diagnostic>> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(false);
        registry.register_escape_fn(handlebars::no_escape);
        let mut tables = Vec::new();
        let mut names = Vec::new();
        let mut errors = Vec::new();
        for (i, (name, src)) in partials.iter().enumerate() {
            match prepass::prepare(&src.text, i + 1) {
                Ok(p) => {
                    let guarded = helpers::guard_partial(name, &p.text);
                    if let Err(e) = registry.register_partial(name, &guarded) {
                        errors.push(template_error(&src.display, &e));
                    }
                    tables.push(Arc::new(FileTable {
                        path: src.display.as_str().into(),
                        placeholders: p.placeholders,
                    }));
                    names.extend(p.names);
                }
                Err(e) => {
                    errors.push(Diagnostic::at(&src.display, e.line, e.column, e.message));
                    tables.push(Arc::new(FileTable {
                        path: src.display.as_str().into(),
                        placeholders: Vec::new(),
                    }));
                }
            }
        }
        helpers::register(&mut registry, Arc::new(tables));
        if let Some(includes) = includes {
            registry.register_helper(
                "include",
                Box::new(super::include::IncludeHelper::new(includes)),
            );
        }
        if errors.is_empty() {
            Ok((
                Engine {
                    registry,
                    direct: true,
                },
                names,
            ))
        } else {
            Err(errors)
        }
    }

    /// Renders one template against `data`; every problem in it is reported at once.
    /// With `proofs`, a template of plain values is proven (once) and its render checked
    /// against the proof ([`Rendered::proven`]).
    pub fn render(
        &self,
        src: &Source,
        data: &handlebars::Context,
        proofs: Option<&Proofs>,
    ) -> Result<Rendered, Vec<Diagnostic>> {
        let prepared = prepass::prepare(&src.text, 0)
            .map_err(|e| vec![Diagnostic::at(&src.display, e.line, e.column, e.message)])?;
        if self.direct
            && let Some(pieces) = &prepared.direct
        {
            let derive = || super::shape::derive(&src.text, &prepared, pieces);
            let proof = proofs.and_then(|p| p.proof(&src.text, derive));
            return render_direct(src, &prepared, pieces, data.data(), proof.as_deref());
        }
        let template = super::compile::compile(&prepared.text, &src.display)
            .map_err(|e| vec![template_error(&src.display, &e)])?;
        let table = Arc::new(FileTable {
            path: src.display.as_str().into(),
            placeholders: prepared.placeholders,
        });
        let (result, found) = helpers::with_current(table, || {
            let mut rc = RenderContext::new(None);
            template.renders(&self.registry, data, &mut rc)
        });
        let mut diagnostics: Vec<Diagnostic> = found.into_iter().map(Diagnostic::from).collect();
        // A text included many times fails the same way each time: said once.
        let mut seen = std::collections::HashSet::new();
        diagnostics.retain(|d| seen.insert((d.line, d.column, d.message.clone())));
        match result {
            Ok(text) if diagnostics.is_empty() => Ok(Rendered {
                text,
                names: prepared.names,
                proven: None,
            }),
            Ok(_) => Err(diagnostics),
            Err(e) => {
                // Lines survive the pre-pass unchanged; columns may not, so only the line is given.
                let line = e.line_no.unwrap_or(0);
                let diagnostic = match e.template_name.as_deref() {
                    // Raised inside a partial: the line is the partial's.
                    Some(partial) if partial != src.display => Diagnostic::at(
                        &src.display,
                        0,
                        0,
                        format!("{} (in partial `{partial}`, line {line})", e.reason()),
                    ),
                    _ => Diagnostic::at(&src.display, line, 0, e.reason().to_string()),
                };
                diagnostics.push(diagnostic);
                Err(diagnostics)
            }
        }
    }
}

/// Renders a template whose tags are all plain values: literal pieces and escaped values;
/// the identities of its objects when `proof` admits the values.
fn render_direct(
    src: &Source,
    prepared: &prepass::Prepared,
    pieces: &[prepass::Piece],
    data: &serde_json::Value,
    proof: Option<&proof::Proof>,
) -> Result<Rendered, Vec<Diagnostic>> {
    // Values are short: room for each to grow its placeholder by a few dozen bytes.
    let mut text = String::with_capacity(prepared.text.len() + 32 * pieces.len());
    let mut problems = Vec::new();
    let mut values = vec![None; prepared.placeholders.len()];
    for piece in pieces {
        match piece {
            prepass::Piece::Text(range) => text.push_str(&prepared.text[range.clone()]),
            prepass::Piece::Value { placeholder, path } => {
                let p = &prepared.placeholders[*placeholder];
                let found = path
                    .split('.')
                    .try_fold(data, |v, seg| v.as_object().and_then(|o| o.get(seg)));
                values[*placeholder] = found;
                let problem = match found {
                    None => Some(Problem::Missing(path.to_string())),
                    Some(v) => helpers::place(v, p.context, &mut text)
                        .err()
                        .map(|why| helpers::unplaceable(Some(path), why)),
                };
                if let Some(problem) = problem {
                    problems.push(Diagnostic::from(Located {
                        file: src.display.as_str().into(),
                        line: p.line,
                        column: p.column,
                        problem,
                    }));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(Rendered {
            text,
            names: prepared.names.clone(),
            proven: proof.and_then(|p| p.admit(&values)),
        })
    } else {
        Err(problems)
    }
}

fn template_error(display: &str, e: &handlebars::TemplateError) -> Diagnostic {
    Diagnostic::at(
        display,
        e.pos().map_or(0, |(l, _)| l),
        0,
        format!("invalid Handlebars: {}", e.reason()),
    )
}

impl From<Located> for Diagnostic {
    fn from(l: Located) -> Self {
        let undefined = matches!(&l.problem, Problem::Missing(name) if !helpers::is_helper(name));
        let message = match l.problem {
            Problem::Missing(name) if name.is_empty() => {
                "a value used here is not defined".to_string()
            }
            // `{{upper}}` reads as a parameter named `upper`; there is none, so it is a
            // helper used without what it works on.
            Problem::Missing(name) if helpers::is_helper(&name) => {
                // The helpers that take a first argument before the value say so.
                let usage = match name.as_str() {
                    "indent" | "nindent" => "4 VALUE",
                    "join" => "\", \" LIST",
                    "default" => "\"FALLBACK\" VALUE",
                    "required" => "\"MESSAGE\" VALUE",
                    "include" => "\"PATH\"",
                    _ => "VALUE",
                };
                format!(
                    "helper `{name}` is used without an argument: write `{{{{{name} {usage}}}}}` (no parameter is named `{name}`)"
                )
            }
            Problem::Missing(name) => format!("parameter `{name}` is not defined"),
            Problem::Required(message) => message,
            Problem::Invalid(message) => message,
        };
        Diagnostic {
            undefined,
            ..Diagnostic::at(&l.file, l.line, l.column, message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The direct path must give exactly what Handlebars gives, problems included.
    #[test]
    fn direct_rendering_agrees_with_handlebars() {
        let data = handlebars::Context::wraps(json!({
            "a": "x: \"y\"\n# z", "n": 3, "l": [1, "b"], "o": {"k": "v w"}, "cr": "1\r2", "e": ""
        }))
        .unwrap();
        let templates = [
            "k: {{a}}\nm: pre-{{a}}-{{n}}\nq: \"{{o.k}}\"\ns: '{{a}}'\n",
            "f: [{{a}}, --x={{l}}, {{{a}}}]\n# {{a}}\nb: |\n  {{a}}\n  t={{n}}\n",
            "x: {{missing}}\ny: {{o.missing}}\nz: |\n  {{cr}}\nw: {{e}}\n",
        ];
        let (mut engine, _) = Engine::new(&[], None).unwrap();
        for t in templates {
            let src = Source {
                display: "t.yaml".into(),
                text: t.into(),
            };
            assert!(
                prepass::prepare(t, 0).unwrap().direct.is_some(),
                "{t} should be direct"
            );
            engine.direct = true;
            let direct = engine.render(&src, &data, None).map(|r| r.text);
            engine.direct = false;
            let compiled = engine.render(&src, &data, None).map(|r| r.text);
            assert_eq!(direct, compiled, "template {t:?}");
        }
    }

    #[test]
    fn templates_with_helpers_or_blocks_are_not_direct() {
        for t in [
            "a: {{upper x}}\n",
            "{{#if x}}a: 1{{/if}}\n",
            "a: {{~x}}\n",
            "a: \\{{x}}\n",
            "{{> p}}\n",
            "a: {{this.x}}\n",
        ] {
            assert!(prepass::prepare(t, 0).unwrap().direct.is_none(), "{t}");
        }
    }
}
