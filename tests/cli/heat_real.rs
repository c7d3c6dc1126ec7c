//! End to end against a real Keystone + Heat (`scripts/openstack-aio.sh start`, which
//! `scripts/test.sh` runs and whose `KO_OS_*` variables it exports): the shipped
//! `heat/heat-setup.yaml` is created as a stack, read with `--source heat`, rendered, and
//! compared with what the OpenStack CLI prints for the same stack; then `login` /
//! `logout` against the real kernel keyring.

use crate::heat::OS_VARS;
use crate::support::{Project, missing, require_program, require_var, stderr, stdout};
use assert_cmd::Command;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

/// The `OS_*` settings of the AIO, from `KO_OS_*`; without them the test fails.
fn aio() -> Vec<(String, String)> {
    let names = [
        "AUTH_URL",
        "USERNAME",
        "PASSWORD",
        "PROJECT_NAME",
        "USER_DOMAIN_NAME",
        "PROJECT_DOMAIN_NAME",
        "REGION_NAME",
    ];
    let how = "run `scripts/openstack-aio.sh start` and export what `scripts/openstack-aio.sh env` prints (scripts/test.sh does both)";
    names
        .iter()
        .map(|n| {
            let value = require_var(&format!("KO_OS_{n}"), how);
            (format!("OS_{n}"), value)
        })
        .collect()
}

fn shipped_project() -> Project {
    let p = Project::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["heat", "kubernetes-in"] {
        for e in walkdir::WalkDir::new(root.join(dir))
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_file())
        {
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            p.write(&rel, &std::fs::read_to_string(e.path()).unwrap());
        }
    }
    p.write(
        "kube-openstack.yaml",
        &std::fs::read_to_string(root.join("kube-openstack.yaml")).unwrap(),
    );
    p
}

fn ko(p: &Project, env: &[(String, String)], args: &[&str]) -> Command {
    let mut c = p.cmd();
    for v in OS_VARS {
        c.env_remove(v);
    }
    c.env("HOME", p.dir.path())
        .envs(env.iter().cloned())
        .args(args);
    c
}

fn success(c: &mut Command) -> std::process::Output {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{:?} failed:\n{}", c, stderr(&out));
    out
}

/// Deletes the stack however the test ends.
struct StackGuard<'a> {
    p: &'a Project,
    env: &'a [(String, String)],
    name: String,
}

impl Drop for StackGuard<'_> {
    fn drop(&mut self) {
        let _ = ko(
            self.p,
            self.env,
            &["stack", "delete", "--stack", &self.name, "--wait"],
        )
        .output();
    }
}

/// `openstack stack output show --all NAME -f json`: output_key -> output_value.
fn cli_outputs(
    openstack: &std::path::Path,
    env: &[(String, String)],
    name: &str,
) -> BTreeMap<String, Json> {
    let out = std::process::Command::new(openstack)
        .args(["stack", "output", "show", "--all", name, "-f", "json"])
        .env("OS_IDENTITY_API_VERSION", "3")
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    assert!(out.status.success(), "openstack CLI: {}", stderr(&out));
    let map: Map<String, Json> = serde_json::from_slice(&out.stdout).unwrap();
    map.into_iter()
        .map(|(k, v)| {
            let inner: Json = serde_json::from_str(v.as_str().unwrap()).unwrap();
            (k, inner["output_value"].clone())
        })
        .collect()
}

fn shape(v: &Json) -> &'static str {
    match v {
        Json::String(_) => "string",
        Json::Number(_) => "number",
        Json::Bool(_) => "bool",
        Json::Array(_) => "list",
        Json::Object(_) => "map",
        Json::Null => "null",
    }
}

fn params_json(p: &Project, env: &[(String, String)], extra: &[&str]) -> Map<String, Json> {
    let mut args = vec!["params", "show", "--show-secrets", "-o", "json"];
    args.extend_from_slice(extra);
    let out = success(&mut ko(p, env, &args));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Each rendered file's documents as their sorted key paths (`spec.template.spec.containers[].image`):
/// the tree's shape, whatever its values.
fn tree_shape(dir: &std::path::Path) -> BTreeMap<String, Vec<Vec<String>>> {
    fn paths(v: &serde_yaml::Value, at: &str, out: &mut Vec<String>) {
        match v {
            serde_yaml::Value::Mapping(m) => {
                for (k, v) in m {
                    let key = format!("{at}.{}", k.as_str().unwrap_or("?"));
                    out.push(key.clone());
                    paths(v, &key, out);
                }
            }
            serde_yaml::Value::Sequence(items) => {
                for v in items {
                    paths(v, &format!("{at}[]"), out);
                }
            }
            _ => {}
        }
    }
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).unwrap();
            let docs = serde_yaml::Deserializer::from_str(&text)
                .map(|d| {
                    let v = <serde_yaml::Value as serde::Deserialize>::deserialize(d).unwrap();
                    let mut out = Vec::new();
                    paths(&v, "", &mut out);
                    out.sort();
                    out.dedup();
                    out
                })
                .collect();
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            (rel, docs)
        })
        .collect()
}

#[test]
fn real_heat_stack_from_the_shipped_template_renders_what_the_openstack_cli_shows() {
    let env = aio();
    let openstack = require_program("openstack", "python3-openstackclient");
    let p = shipped_project();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!("ko-e2e-{}-{nanos}", std::process::id());

    // The real Heat accepts the template as it is.
    let validate = std::process::Command::new(&openstack)
        .args(["orchestration", "template", "validate", "-t"])
        .arg(p.path("heat/heat-setup.yaml"))
        .env("OS_IDENTITY_API_VERSION", "3")
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    assert!(
        validate.status.success(),
        "heat template validate: {}",
        stderr(&validate)
    );

    let _guard = StackGuard {
        p: &p,
        env: &env,
        name: name.clone(),
    };
    let out = success(&mut ko(
        &p,
        &env,
        &[
            "stack",
            "create",
            "--stack",
            &name,
            "-P",
            "image_tag=e2e",
            "--wait",
        ],
    ));
    assert!(stderr(&out).contains("CREATE_COMPLETE"), "{}", stderr(&out));
    success(&mut ko(
        &p,
        &env,
        &["render", "--source", "heat", "--stack", &name],
    ));

    let heat = cli_outputs(&openstack, &env, &name);
    assert!(heat.len() > 30, "{heat:?}");
    let ours = params_json(&p, &env, &["--source", "heat", "--stack", &name]);
    let rendered: String = p
        .tree("kubernetes")
        .into_iter()
        .map(|(_, bytes)| String::from_utf8(bytes).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let templates: String = p
        .tree("kubernetes-in")
        .into_iter()
        .map(|(_, bytes)| String::from_utf8(bytes).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    for (key, value) in &heat {
        assert_eq!(
            &ours[key]["value"], value,
            "`{key}`: kube-openstack and the openstack CLI disagree"
        );
        assert_eq!(ours[key]["source"], "heat", "`{key}`");
        // Values the templates use are in the rendered tree (plain ones, which need no escaping).
        if let Some(s) = value.as_str()
            && templates.contains(&format!("{{{{{key}}}}}"))
            && s.chars().all(|c| c.is_ascii_alphanumeric())
        {
            assert!(
                rendered.contains(s),
                "the value of `{key}` is not in the rendered tree"
            );
        }
    }
    assert_eq!(heat["image_tag"], "e2e", "stack parameters reach Heat");
    assert!(ours["keystone_db_password"]["secret"].as_bool().unwrap());

    // The local evaluator and the real Heat agree on the names and shapes of the outputs.
    let local = params_json(&p, &env, &["--source", "local", "-P", "image_tag=e2e"]);
    let local_outputs: BTreeMap<&String, &str> = local
        .iter()
        .filter(|(_, v)| v["source"] == "local")
        .map(|(k, v)| (k, shape(&v["value"])))
        .collect();
    let heat_outputs: BTreeMap<&String, &str> = heat.iter().map(|(k, v)| (k, shape(v))).collect();
    assert_eq!(local_outputs, heat_outputs);

    // The same templates rendered from the local evaluation have the same shape: the same
    // files, objects and keys; only values differ.
    success(&mut ko(
        &p,
        &env,
        &[
            "render",
            "--source",
            "local",
            "-P",
            "image_tag=e2e",
            "--output-dir",
            "kubernetes-local",
        ],
    ));
    let from_heat = tree_shape(&p.path("kubernetes"));
    assert!(from_heat.len() > 30, "{from_heat:?}");
    assert_eq!(from_heat, tree_shape(&p.path("kubernetes-local")));

    // diff after render, offline: nothing to change.
    let mut diff = ko(&p, &[], &["diff", "--source", "heat", "--stack", &name]);
    diff.env("OS_AUTH_URL", "http://127.0.0.1:9/v3");
    let out = diff.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );

    login_then_params_without_a_password_then_logout(&p, &env, &name);
}

/// Whether this kernel lets the process use keyrings at all. Container runtimes'
/// default seccomp profiles refuse `keyctl` (EPERM/ENOSYS): an environment limit, not a
/// fault of ours.
fn kernel_keyring_refused() -> Option<String> {
    // SAFETY: KEYCTL_GET_KEYRING_ID (0) on KEY_SPEC_USER_KEYRING (-4), integers only.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            0 as libc::c_long,
            -4 as libc::c_long,
            0 as libc::c_long,
        )
    };
    let errno = std::io::Error::last_os_error();
    (r < 0 && matches!(errno.raw_os_error(), Some(libc::EPERM | libc::ENOSYS)))
        .then(|| errno.to_string())
}

fn login_then_params_without_a_password_then_logout(
    p: &Project,
    env: &[(String, String)],
    name: &str,
) {
    if let Some(why) = kernel_keyring_refused() {
        missing(
            &format!("the kernel keyring (`keyctl` is refused here: {why})"),
            "run the tests where the kernel allows keyctl (a container needs a seccomp profile that allows it)",
        );
    }
    let password = env
        .iter()
        .find(|(k, _)| k == "OS_PASSWORD")
        .unwrap()
        .1
        .clone();
    let without: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| k != "OS_PASSWORD")
        .cloned()
        .collect();
    let refresh = ["params", "refresh", "--source", "heat", "--stack", name];

    let out = ko(p, &without, &refresh).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "no password anywhere yet: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("kube-openstack login"),
        "{}",
        stderr(&out)
    );

    let out = ko(p, &without, &["login", "--password-stdin"])
        .write_stdin("wrong-password\n")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a wrong password is checked, not stored"
    );

    success(ko(p, &without, &["login", "--password-stdin"]).write_stdin(format!("{password}\n")));
    let out = success(&mut ko(p, &without, &refresh));
    assert!(stderr(&out).contains("0 of"), "{}", stderr(&out));

    success(&mut ko(p, &without, &["logout"]));
    let out = ko(p, &without, &refresh).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "logout removed the password: {}",
        stderr(&out)
    );
}
