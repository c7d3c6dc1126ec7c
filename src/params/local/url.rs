//! The `make_url` function, escaping each part as Heat does with Python's
//! `urllib.parse` (`quote`, `urlencode`, `urlunsplit`).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::pyvalue::{py_int, py_str};

/// Python's `quote(s, safe='')`: only letters, digits and `_.-~` stay.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');
/// `quote(s)`, whose default `safe` is `/`.
const PATH: &AsciiSet = &UNRESERVED.remove(b'/');
/// `quote(host, safe=':')`.
const HOST: &AsciiSet = &UNRESERVED.remove(b':');

const KEYS: &[&str] = &[
    "scheme", "username", "password", "host", "port", "path", "query", "fragment",
];
const USES_NETLOC: &[&str] = &[
    "", "ftp", "http", "gopher", "nntp", "telnet", "imap", "wais", "file", "mms", "https", "shttp",
    "snews", "prospero", "rtsp", "rtspu", "rsync", "svn", "svn+ssh", "sftp", "nfs", "git",
    "git+ssh", "ws", "wss",
];

pub(crate) fn make_url(a: &Value) -> Result<Value, String> {
    let Value::Object(m) = a else {
        return Err("arguments must be a map".into());
    };
    if let Some(bad) = m.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!("invalid argument `{bad}`"));
    }
    let text = |key: &str| -> Result<String, String> {
        match m.get(key) {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(format!("the `{key}` argument must be a string")),
        }
    };
    let scheme = text("scheme")?;
    if scheme.contains(':') {
        return Err("`scheme` must not contain `:`".into());
    }
    let netloc = netloc(
        &text("username")?,
        &text("password")?,
        &text("host")?,
        port(m.get("port"))?,
    );
    let path = quote(&text("path")?, PATH);
    let query = match m.get("query") {
        None => String::new(),
        Some(Value::Object(q)) => q
            .iter()
            .map(|(k, v)| format!("{}={}", quote_plus(k), quote_plus(&py_str(v))))
            .collect::<Vec<_>>()
            .join("&")
            .replace("%2F", "/"),
        Some(_) => return Err("the `query` argument must be a map".into()),
    };
    let fragment = quote(&text("fragment")?, PATH);
    Ok(Value::String(unsplit(
        &scheme, &netloc, &path, &query, &fragment,
    )))
}

fn port(v: Option<&Value>) -> Result<String, String> {
    let n = match v {
        None => return Ok(String::new()),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => py_int(s),
        Some(_) => None,
    }
    .ok_or_else(|| format!("invalid URL port `{}`", v.map(py_str).unwrap_or_default()))?;
    if !(1..=65535).contains(&n) {
        return Err(format!("invalid URL port {n}, must be in range 1-65535"));
    }
    Ok(v.map(py_str).unwrap_or_default())
}

fn netloc(username: &str, password: &str, host: &str, port: String) -> String {
    let mut out = String::new();
    if !username.is_empty() || !password.is_empty() {
        out.push_str(&quote(username, UNRESERVED));
        if !password.is_empty() {
            out.push(':');
            out.push_str(&quote(password, UNRESERVED));
        }
        out.push('@');
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let quoted = quote(bare, HOST);
    // An IPv6 address goes back in brackets.
    if quoted.contains(':') {
        out.push_str(&format!("[{quoted}]"));
    } else {
        out.push_str(&quoted);
    }
    if !port.is_empty() {
        out.push(':');
        out.push_str(&port);
    }
    out
}

fn quote(s: &str, set: &'static AsciiSet) -> String {
    utf8_percent_encode(s, set).to_string()
}

fn quote_plus(s: &str) -> String {
    quote(s, UNRESERVED).replace("%20", "+")
}

/// Python's `urlunsplit`.
fn unsplit(scheme: &str, netloc: &str, path: &str, query: &str, fragment: &str) -> String {
    let mut url = path.to_string();
    if !netloc.is_empty()
        || (!scheme.is_empty() && USES_NETLOC.contains(&scheme) && !url.starts_with("//"))
    {
        if !url.is_empty() && !url.starts_with('/') {
            url.insert(0, '/');
        }
        url = format!("//{netloc}{url}");
    }
    if !scheme.is_empty() {
        url = format!("{scheme}:{url}");
    }
    if !query.is_empty() {
        url = format!("{url}?{query}");
    }
    if !fragment.is_empty() {
        url = format!("{url}#{fragment}");
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_credentials_and_keeps_path_slashes() {
        let url = make_url(&json!({
            "scheme": "mysql+pymysql", "username": "nova", "password": "p@ss:w/rd",
            "host": "db", "port": 3306, "path": "nova db", "query": {"charset": "utf8", "x": "a/b c"}
        }))
        .unwrap();
        assert_eq!(
            url,
            json!("mysql+pymysql://nova:p%40ss%3Aw%2Frd@db:3306/nova%20db?charset=utf8&x=a/b+c")
        );
    }

    #[test]
    fn brackets_ipv6_hosts_and_checks_ports() {
        assert_eq!(
            make_url(&json!({"scheme": "http", "host": "::1", "port": "80"})).unwrap(),
            json!("http://[::1]:80")
        );
        assert!(
            make_url(&json!({"host": "h", "port": 70000}))
                .unwrap_err()
                .contains("1-65535")
        );
        assert!(make_url(&json!({"scheme": "a:b"})).is_err());
        assert!(
            make_url(&json!({"hostname": "x"}))
                .unwrap_err()
                .contains("hostname")
        );
    }
}
