//! Registry credentials: from flags, else from the files container tools keep them in
//! (`$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
//! `~/.config/containers/auth.json`, `$DOCKER_CONFIG/config.json` or
//! `~/.docker/config.json`), as docker, podman and buildah read them: in each file,
//! `credHelpers` (a `docker-credential-NAME` helper for this registry), then
//! `credsStore` (the helper for every registry), then `auths`. Builders get them through
//! a private auth file, never argv.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

impl Credentials {
    pub fn basic_header(&self) -> String {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", self.username, self.password))
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read credentials file `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("credentials file `{}` is not valid JSON", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("credential helper `docker-credential-{helper}` (named in `{}`) failed: {message}", path.display())]
    Helper {
        helper: String,
        path: PathBuf,
        message: String,
    },
    #[error("cannot write a private auth file under `{}`", dir.display())]
    Write {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The files looked in, in order (those that exist are read).
pub fn auth_files() -> Vec<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let mut files = Vec::new();
    files.extend(env("REGISTRY_AUTH_FILE"));
    if let Some(run) = env("XDG_RUNTIME_DIR") {
        files.push(run.join("containers/auth.json"));
    }
    let home = env("HOME");
    if let Some(h) = &home {
        files.push(h.join(".config/containers/auth.json"));
    }
    match env("DOCKER_CONFIG") {
        Some(d) => files.push(d.join("config.json")),
        None => files.extend(home.map(|h| h.join(".docker/config.json"))),
    }
    files
}

/// Credentials for `registry` (`host:port`) from the first file that has an entry for it.
pub fn from_files(registry: &str, files: &[PathBuf]) -> Result<Option<Credentials>, AuthError> {
    for path in files {
        let text = match crate::files::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(AuthError::Read {
                    path: path.clone(),
                    source,
                });
            }
        };
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| AuthError::Parse {
                path: path.clone(),
                source,
            })?;
        if let Some(helper) = helper_for(&json, registry) {
            match ask_helper(&helper, registry, path)? {
                Some(c) => return Ok(Some(c)),
                // A helper that has none for it: docker stops there; so do we, for this file.
                None => continue,
            }
        }
        let Some(auths) = json.get("auths").and_then(|a| a.as_object()) else {
            continue;
        };
        for (key, entry) in auths {
            if host_of(key) != host_of(registry) {
                continue;
            }
            if let Some(c) = entry_credentials(entry) {
                return Ok(Some(c));
            }
        }
    }
    Ok(None)
}

/// The helper a config file names for `registry`: its `credHelpers` entry, else its
/// `credsStore`.
fn helper_for(json: &serde_json::Value, registry: &str) -> Option<String> {
    let named = json
        .get("credHelpers")
        .and_then(|h| h.as_object())
        .and_then(|h| h.iter().find(|(key, _)| host_of(key) == host_of(registry)))
        .and_then(|(_, helper)| helper.as_str());
    let store = json.get("credsStore").and_then(|s| s.as_str());
    named
        .or(store)
        .filter(|h| !h.is_empty())
        .map(str::to_string)
}

/// Runs `docker-credential-HELPER get` with the registry on stdin (the protocol of
/// docker's credential helpers): `{"Username", "Secret"}` on stdout. `None` when it
/// has nothing for the registry. The secret never reaches a message.
fn ask_helper(
    helper: &str,
    registry: &str,
    config: &Path,
) -> Result<Option<Credentials>, AuthError> {
    use std::process::{Command, Stdio};
    let failed = |message: String| AuthError::Helper {
        helper: helper.to_string(),
        path: config.to_path_buf(),
        message,
    };
    if !helper
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(failed("not a helper name".into()));
    }
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("cannot run `{program}`: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading is judged by its answer below.
        let _ = stdin.write_all(host_of(registry).as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| failed(format!("cannot run `{program}`: {e}")))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        // The helpers' own words for "nothing stored" (docker-credential-helpers).
        if said.contains("credentials not found") {
            return Ok(None);
        }
        let said = said.lines().next().unwrap_or("").trim().chars().take(200);
        return Err(failed(format!(
            "{}: {}",
            out.status,
            said.collect::<String>()
        )));
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(rename = "Username", default)]
        username: String,
        #[serde(rename = "Secret", default)]
        secret: String,
    }
    let answer: Answer = serde_json::from_slice(&out.stdout)
        .map_err(|_| failed("its answer is not the JSON of a credential helper".into()))?;
    if answer.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials {
        username: answer.username,
        password: answer.secret,
    }))
}

/// `https://host:port/v1/` -> `host:port`.
fn host_of(key: &str) -> &str {
    let key = key.split_once("://").map_or(key, |(_, rest)| rest);
    key.split('/').next().unwrap_or(key)
}

fn entry_credentials(entry: &serde_json::Value) -> Option<Credentials> {
    if let Some(auth) = entry.get("auth").and_then(|a| a.as_str()) {
        let decoded = String::from_utf8(STANDARD.decode(auth.trim()).ok()?).ok()?;
        let (username, password) = decoded.split_once(':')?;
        return Some(Credentials {
            username: username.into(),
            password: password.into(),
        });
    }
    let username = entry.get("username")?.as_str()?;
    let password = entry.get("password")?.as_str()?;
    Some(Credentials {
        username: username.into(),
        password: password.into(),
    })
}

/// A private directory (0700) holding `auth.json` / `config.json` (0600) with one entry,
/// for the builder's `--authfile` or `DOCKER_CONFIG`. Removed on drop, on SIGINT/SIGTERM,
/// and (after SIGKILL) by the next run: a [`crate::scratch::ScratchDir`].
pub struct ChildAuth {
    dir: crate::scratch::ScratchDir,
}

impl ChildAuth {
    pub fn write(
        parent: &Path,
        registry: &str,
        creds: &Credentials,
    ) -> Result<ChildAuth, AuthError> {
        let err = |source| AuthError::Write {
            dir: parent.to_path_buf(),
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(err)?;
        crate::scratch::sweep(parent, "registry-auth-");
        let dir = crate::scratch::ScratchDir::new_in(parent, "registry-auth-").map_err(err)?;
        let json = serde_json::json!({ "auths": { host_of(registry): { "auth": STANDARD.encode(format!("{}:{}", creds.username, creds.password)) } } });
        for name in ["auth.json", "config.json"] {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(dir.path().join(name))
                .map_err(err)?;
            f.write_all(json.to_string().as_bytes()).map_err(err)?;
        }
        Ok(ChildAuth { dir })
    }

    /// For buildah/podman `--authfile`.
    pub fn auth_file(&self) -> PathBuf {
        self.dir.path().join("auth.json")
    }

    /// For docker's `DOCKER_CONFIG`.
    pub fn docker_config_dir(&self) -> &Path {
        self.dir.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_the_first_file_with_the_registry() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("auth.json");
        let b = t.path().join("config.json");
        std::fs::write(&a, r#"{"auths":{"other:1":{"auth":"eDp5"}}}"#).unwrap();
        std::fs::write(
            &b,
            format!(
                r#"{{"auths":{{"https://reg:4999/v1/":{{"auth":"{}"}}}}}}"#,
                STANDARD.encode("u:p:w")
            ),
        )
        .unwrap();
        let c = from_files("reg:4999", &[t.path().join("missing"), a, b])
            .unwrap()
            .unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p:w"));
        assert!(
            !format!("{c:?}").contains("p:w"),
            "Debug never shows the password"
        );
    }

    #[test]
    fn the_child_auth_file_is_private_and_goes_away() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let creds = Credentials {
            username: "u".into(),
            password: "secret".into(),
        };
        let child = ChildAuth::write(t.path(), "reg:4999", &creds).unwrap();
        let file = child.auth_file();
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            from_files("reg:4999", std::slice::from_ref(&file))
                .unwrap()
                .unwrap()
                .password,
            "secret"
        );
        drop(child);
        assert!(!file.exists());
    }
}
