//! The storage driver buildah and podman keep images in. `overlay` shares unchanged files
//! between layers through kernel overlay mounts; `vfs` copies every layer in full, which
//! works everywhere but is several times slower and larger. The rule, first match wins:
//!
//! 1. `--storage-driver DRIVER`;
//! 2. the `STORAGE_DRIVER` environment variable (the containers tools' convention; passed
//!    on as the flag, since buildah does not read it when no storage.conf exists);
//! 3. the `driver` of the storage.conf the builder reads (`CONTAINERS_STORAGE_CONF`, else
//!    the system or user file), left to the builder;
//! 4. otherwise the builder's own choice, which is what the user's other buildah commands
//!    get too: the driver a store already holds, else overlay where the kernel mounts it
//!    on the store's file system; where overlay does not work, vfs.
//!
//! Only 1, 2 and the vfs fallback add `--storage-driver` to the builder's command lines:
//! overlay chosen by buildah, or a configured driver, keeps the store readable by a plain
//! `buildah images`.

use std::path::{Path, PathBuf};

/// Where the driver came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag,
    EnvVar,
    Config(PathBuf),
    /// The builder chose; `reason` says why in words.
    Automatic,
}

/// What the builder is told about storage: a driver to pass on every call, or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub flag: Option<String>,
    pub origin: Origin,
}

/// The storage the builder reported, and why it is that one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Storage {
    pub driver: String,
    pub graph_root: PathBuf,
    pub origin: Origin,
    /// Why overlay was not used, when the builder said (automatic fallback only).
    pub overlay_error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot read the storage configuration `{}`", path.display())]
    Config {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not valid TOML: {message}", path.display())]
    ConfigSyntax { path: PathBuf, message: String },
    #[error("`{program}` cannot open its image storage: {message}")]
    Unusable { program: String, message: String },
}

/// Applies rules 1 to 3 (4 needs the builder: see [`Storage`]). `env` reads a variable.
pub fn choose(
    flag: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Choice, StorageError> {
    let set = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    if let Some(driver) = flag.filter(|d| !d.trim().is_empty()) {
        return Ok(Choice {
            flag: Some(driver.to_string()),
            origin: Origin::Flag,
        });
    }
    if let Some(driver) = set(env("STORAGE_DRIVER")) {
        return Ok(Choice {
            flag: Some(driver),
            origin: Origin::EnvVar,
        });
    }
    if let Some(path) = config_file(env)
        && configured_driver(&path)?.is_some()
    {
        return Ok(Choice {
            flag: None,
            origin: Origin::Config(path),
        });
    }
    Ok(Choice {
        flag: None,
        origin: Origin::Automatic,
    })
}

/// The storage.conf the builder reads, as the containers libraries look for it: the
/// `CONTAINERS_STORAGE_CONF` file, else (as root) `/etc/containers/storage.conf` or the
/// packaged default in `/usr/share/containers`, else the user's own file.
pub fn config_file(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(path) = env("CONTAINERS_STORAGE_CONF").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let candidates: Vec<PathBuf> = if root {
        vec![
            "/etc/containers/storage.conf".into(),
            "/usr/share/containers/storage.conf".into(),
        ]
    } else {
        let config_home = env("XDG_CONFIG_HOME")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| env("HOME").map(|h| Path::new(&h).join(".config")));
        config_home
            .map(|c| c.join("containers/storage.conf"))
            .into_iter()
            .collect()
    };
    candidates.into_iter().find(|p| p.is_file())
}

/// The `driver` key of a storage.conf's `[storage]` table, when set and not empty.
pub fn configured_driver(path: &Path) -> Result<Option<String>, StorageError> {
    let text = match crate::files::read_to_string(path) {
        Ok(t) => t,
        // A named file that is missing is the builder's error to report, with its words.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StorageError::Config {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let table: toml::Table =
        text.parse()
            .map_err(|e: toml::de::Error| StorageError::ConfigSyntax {
                path: path.to_path_buf(),
                message: e.message().to_string(),
            })?;
    Ok(table
        .get("storage")
        .and_then(|s| s.get("driver"))
        .and_then(|d| d.as_str())
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_string))
}

impl Storage {
    /// Why this driver, in words, for the status line.
    pub fn reason(&self) -> String {
        match &self.origin {
            Origin::Flag => "from --storage-driver".into(),
            Origin::EnvVar => "from STORAGE_DRIVER".into(),
            Origin::Config(path) => format!("from `{}`", path.display()),
            Origin::Automatic if self.driver == "vfs" => match &self.overlay_error {
                Some(error) => format!(
                    "automatic: overlay does not work for `{}` ({error}); vfs is the fallback, slower since every layer is a full copy",
                    self.graph_root.display()
                ),
                None if holds_images(&self.graph_root, "vfs") => format!(
                    "automatic: the store `{}` already holds vfs images; --storage-driver overlay starts an overlay store beside them",
                    self.graph_root.display()
                ),
                None => format!(
                    "automatic: overlay mounts do not work for `{}`; vfs is the fallback, slower since every layer is a full copy",
                    self.graph_root.display()
                ),
            },
            Origin::Automatic => format!(
                "automatic: the kernel mounts overlay for `{}`",
                self.graph_root.display()
            ),
        }
    }
}

impl std::fmt::Display for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} driver ({})", self.driver, self.reason())
    }
}

/// Whether the store at `graph_root` lists any image for `driver`.
fn holds_images(graph_root: &Path, driver: &str) -> bool {
    let list = graph_root.join(format!("{driver}-images/images.json"));
    std::fs::read(list)
        .ok()
        .and_then(|b| serde_json::from_slice::<Vec<serde_json::Value>>(&b).ok())
        .is_some_and(|images| !images.is_empty())
}

/// Reads `DRIVER<TAB>GRAPHROOT` as printed by `buildah info` / `podman info`.
pub fn parse_info(text: &str) -> Option<(String, PathBuf)> {
    let (driver, root) = text.trim().split_once('\t')?;
    (!driver.is_empty()).then(|| (driver.to_string(), PathBuf::from(root)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn conf(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn the_flag_wins_then_the_environment_then_the_config_file() {
        let c = conf("[storage]\ndriver = \"overlay\"\n");
        let path = c.path().display().to_string();
        let all = env(&[
            ("STORAGE_DRIVER", "btrfs"),
            ("CONTAINERS_STORAGE_CONF", &path),
        ]);
        let flag = choose(Some("vfs"), &all).unwrap();
        assert_eq!(flag.flag.as_deref(), Some("vfs"));
        assert_eq!(flag.origin, Origin::Flag);
        let from_env = choose(None, &all).unwrap();
        assert_eq!(from_env.flag.as_deref(), Some("btrfs"));
        assert_eq!(from_env.origin, Origin::EnvVar);
        let from_conf = choose(None, &env(&[("CONTAINERS_STORAGE_CONF", &path)])).unwrap();
        assert_eq!(
            from_conf,
            Choice {
                flag: None,
                origin: Origin::Config(c.path().to_path_buf())
            },
            "the configured driver is left to the builder, which reads the same file"
        );
    }

    #[test]
    fn a_config_without_a_driver_or_an_empty_variable_leaves_the_choice_to_the_builder() {
        let c = conf("[storage]\ngraphroot = \"/x\"\ndriver = \"\"\n");
        let path = c.path().display().to_string();
        let choice = choose(
            Some(" "),
            &env(&[("STORAGE_DRIVER", ""), ("CONTAINERS_STORAGE_CONF", &path)]),
        )
        .unwrap();
        assert_eq!(choice.origin, Origin::Automatic);
        assert_eq!(choice.flag, None);
    }

    #[test]
    fn a_broken_config_file_is_named() {
        let c = conf("[storage\ndriver = \"overlay\"\n");
        let path = c.path().display().to_string();
        let err = choose(None, &env(&[("CONTAINERS_STORAGE_CONF", &path)])).unwrap_err();
        assert!(err.to_string().contains(&path), "{err}");
    }

    #[test]
    fn the_reason_for_vfs_tells_a_fallback_from_an_existing_store() {
        let root = tempfile::tempdir().unwrap();
        let storage = |driver: &str| Storage {
            driver: driver.into(),
            graph_root: root.path().to_path_buf(),
            origin: Origin::Automatic,
            overlay_error: None,
        };
        assert!(
            storage("overlay")
                .to_string()
                .starts_with("overlay driver (automatic: the kernel mounts overlay")
        );
        assert!(
            storage("vfs")
                .reason()
                .contains("overlay mounts do not work")
        );
        std::fs::create_dir(root.path().join("vfs-images")).unwrap();
        std::fs::write(
            root.path().join("vfs-images/images.json"),
            r#"[{"id":"x"}]"#,
        )
        .unwrap();
        assert!(storage("vfs").reason().contains("already holds vfs images"));
    }

    #[test]
    fn builder_info_is_driver_tab_root() {
        assert_eq!(
            parse_info("overlay\t/var/lib/containers/storage\n"),
            Some(("overlay".into(), "/var/lib/containers/storage".into()))
        );
        assert_eq!(parse_info("garbage"), None);
    }
}
