//! `pods/NAME/log` from the containers' real logs: podman's `k8s-file` driver writes the
//! CRI log format (`TIMESTAMP STREAM P|F TEXT`, `P` for a partial line), one file per run
//! of a container, so `previous` is the run before the current one.

use std::collections::HashMap;
use std::path::PathBuf;

/// What a log request asks for (the query parameters of `pods/log`).
#[derive(Default)]
pub struct LogQuery {
    pub container: Option<String>,
    pub previous: bool,
    pub tail_lines: Option<usize>,
    pub timestamps: bool,
    pub limit_bytes: Option<usize>,
}

impl LogQuery {
    pub fn from(q: &HashMap<String, String>) -> LogQuery {
        LogQuery {
            container: q.get("container").cloned(),
            previous: q.get("previous").is_some_and(|v| v == "true"),
            tail_lines: q.get("tailLines").and_then(|v| v.parse().ok()),
            timestamps: q.get("timestamps").is_some_and(|v| v == "true"),
            limit_bytes: q.get("limitBytes").and_then(|v| v.parse().ok()),
        }
    }
}

/// The log files of one container: one per run, oldest first; and why it has not
/// started, while it waits.
#[derive(Default, Clone)]
pub struct ContainerLogs {
    pub runs: Vec<PathBuf>,
    pub waiting: Option<String>,
}

/// The text of one CRI log file.
pub fn read(path: &PathBuf, q: &LogQuery) -> String {
    let raw = std::fs::read(path).unwrap_or_default();
    let raw = String::from_utf8_lossy(&raw);
    let mut lines: Vec<String> = Vec::new();
    let mut partial = String::new();
    for line in raw.lines() {
        let mut parts = line.splitn(4, ' ');
        let (Some(ts), Some(_stream), Some(tag)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let text = parts.next().unwrap_or("");
        if partial.is_empty() && q.timestamps {
            partial.push_str(ts);
            partial.push(' ');
        }
        partial.push_str(text);
        if tag == "F" {
            partial.push('\n');
            lines.push(std::mem::take(&mut partial));
        }
    }
    if !partial.is_empty() {
        lines.push(partial);
    }
    if let Some(n) = q.tail_lines {
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    let mut out: String = lines.concat();
    if let Some(limit) = q.limit_bytes
        && out.len() > limit
    {
        let mut cut = limit;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cri_format() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        std::fs::write(
            &p,
            "2026-01-01T00:00:00.1Z stdout F one\n2026-01-01T00:00:00.2Z stderr P tw\n2026-01-01T00:00:00.3Z stderr F o\n2026-01-01T00:00:00.4Z stdout F three\n",
        )
        .unwrap();
        let all = read(&p, &LogQuery::default());
        assert_eq!(all, "one\ntwo\nthree\n");
        let tail = read(
            &p,
            &LogQuery {
                tail_lines: Some(1),
                ..LogQuery::default()
            },
        );
        assert_eq!(tail, "three\n");
        let ts = read(
            &p,
            &LogQuery {
                timestamps: true,
                tail_lines: Some(1),
                ..LogQuery::default()
            },
        );
        assert_eq!(ts, "2026-01-01T00:00:00.4Z three\n");
    }
}
