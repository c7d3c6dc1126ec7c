//! Build order from `FROM` lines: bases before the images built on them.

use super::context::ImageContext;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GraphError {
    #[error("the `FROM` lines of `docker/` form a cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    #[error("no build context named {}; the contexts are: {}", quoted(.unknown), .known.join(", "))]
    Unknown {
        unknown: Vec<String>,
        known: Vec<String>,
    },
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Indices of `contexts` in build order (bases first; otherwise by name).
pub fn build_order(contexts: &[ImageContext]) -> Result<Vec<usize>, GraphError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Visiting,
        Done,
    }
    fn visit(
        i: usize,
        cs: &[ImageContext],
        marks: &mut [Mark],
        path: &mut Vec<usize>,
        out: &mut Vec<usize>,
    ) -> Result<(), GraphError> {
        match marks[i] {
            Mark::Done => return Ok(()),
            Mark::Visiting => {
                let start = path.iter().position(|&p| p == i).expect("on the path");
                let mut cycle: Vec<String> =
                    path[start..].iter().map(|&p| cs[p].name.clone()).collect();
                cycle.push(cs[i].name.clone());
                return Err(GraphError::Cycle(cycle));
            }
            Mark::New => {}
        }
        marks[i] = Mark::Visiting;
        path.push(i);
        for base in &cs[i].bases {
            let b = cs
                .iter()
                .position(|c| &c.name == base)
                .expect("bases are contexts");
            visit(b, cs, marks, path, out)?;
        }
        path.pop();
        marks[i] = Mark::Done;
        out.push(i);
        Ok(())
    }
    let mut marks = vec![Mark::New; contexts.len()];
    let mut out = Vec::new();
    for i in 0..contexts.len() {
        visit(i, contexts, &mut marks, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}

/// The names asked for plus every base they are built on (nothing asked: everything).
pub fn select(contexts: &[ImageContext], wanted: &[String]) -> Result<Vec<String>, GraphError> {
    if wanted.is_empty() {
        return Ok(contexts.iter().map(|c| c.name.clone()).collect());
    }
    let unknown: Vec<String> = wanted
        .iter()
        .filter(|w| !contexts.iter().any(|c| &c.name == *w))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(GraphError::Unknown {
            unknown,
            known: contexts.iter().map(|c| c.name.clone()).collect(),
        });
    }
    let mut selected: Vec<String> = Vec::new();
    let mut stack: Vec<String> = wanted.to_vec();
    while let Some(name) = stack.pop() {
        if selected.contains(&name) {
            continue;
        }
        let c = contexts.iter().find(|c| c.name == name).expect("known");
        stack.extend(c.bases.iter().cloned());
        selected.push(name);
    }
    Ok(selected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(name: &str, bases: &[&str]) -> ImageContext {
        ImageContext {
            name: name.into(),
            dir: name.into(),
            froms: vec![],
            bases: bases.iter().map(|b| b.to_string()).collect(),
            own_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn bases_come_first() {
        let cs = [
            ctx("app", &["base"]),
            ctx("base", &["root"]),
            ctx("other", &[]),
            ctx("root", &[]),
        ];
        let order: Vec<&str> = build_order(&cs)
            .unwrap()
            .into_iter()
            .map(|i| cs[i].name.as_str())
            .collect();
        assert_eq!(order, ["root", "base", "app", "other"]);
    }

    #[test]
    fn a_cycle_is_named() {
        let cs = [
            ctx("a", &["b"]),
            ctx("b", &["c"]),
            ctx("c", &["a"]),
            ctx("d", &[]),
        ];
        assert_eq!(
            build_order(&cs),
            Err(GraphError::Cycle(vec![
                "a".into(),
                "b".into(),
                "c".into(),
                "a".into()
            ]))
        );
    }

    #[test]
    fn selecting_an_image_brings_its_bases_and_unknown_names_are_errors() {
        let cs = [ctx("app", &["base"]), ctx("base", &[]), ctx("other", &[])];
        let mut s = select(&cs, &["app".into()]).unwrap();
        s.sort();
        assert_eq!(s, ["app", "base"]);
        let err = select(&cs, &["nope".into()]).unwrap_err();
        assert!(
            err.to_string().contains("`nope`") && err.to_string().contains("app, base, other"),
            "{err}"
        );
    }
}
