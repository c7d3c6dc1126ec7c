//! Registry authentication against a real Docker Distribution registry with htpasswd
//! (Basic) auth, started by the test on a free loopback port with filesystem storage.

use crate::support::images::{ImageProject, is_call, registry_and_buildah, require_program};
use crate::support::{failure, stderr, stdout};
use std::process::{Child, Command, Stdio};

const PASSWORD: &str = "s3cret-Pa55:#word";

struct AuthRegistry {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Drop for AuthRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_auth_registry() -> AuthRegistry {
    let program = require_program("docker-registry", "docker-registry");
    let dir = tempfile::tempdir().unwrap();
    // Distribution's htpasswd takes bcrypt only; Python's crypt makes one with libcrypt.
    let hash = Command::new("python3")
        .args(["-W", "ignore", "-c", "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))", PASSWORD])
        .output()
        .unwrap();
    assert!(hash.status.success(), "{}", failure(&hash));
    std::fs::write(
        dir.path().join("htpasswd"),
        format!("builder:{}", stdout(&hash)),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let config = format!(
        "version: 0.1\nstorage: {{filesystem: {{rootdirectory: {0}/data}}, delete: {{enabled: true}}}}\nhttp: {{addr: \"{address}\", secret: test}}\nauth: {{htpasswd: {{realm: kube-openstack-test, path: {0}/htpasswd}}}}\n",
        dir.path().display()
    );
    std::fs::write(dir.path().join("config.yml"), config).unwrap();
    let child = Command::new(program)
        .args(["serve"])
        .arg(dir.path().join("config.yml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let registry = AuthRegistry {
        child,
        address,
        _dir: dir,
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(&registry.address).is_ok() {
            return registry;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!(
        "the htpasswd registry did not start on {}",
        registry.address
    );
}

#[test]
fn wrong_or_missing_credentials_are_refused_with_a_hint_and_the_password_never_shows() {
    let reg = start_auth_registry();
    let p = crate::support::Project::new();
    p.write("docker/a/Dockerfile", "FROM scratch\n");
    let list = |stdin: Option<&str>| {
        let mut c = p.cmd();
        c.args(["images", "list", "--registry", &reg.address]);
        if let Some(s) = stdin {
            c.args(["--username", "builder", "--password-stdin"])
                .write_stdin(s.to_string());
        }
        c.env("HOME", p.path("")).output().unwrap()
    };
    let out = list(None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("refused the credentials (none were given)"),
        "{}",
        stderr(&out)
    );
    let out = list(Some("not-the-password\n"));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "registry `http://{}/v2/` refused the credentials",
            reg.address
        )),
        "{err}"
    );
    assert!(
        err.contains("hint:") && err.contains("--password-stdin"),
        "{err}"
    );
    assert!(!err.contains("not-the-password"), "{err}");
    let out = list(Some(&format!("{PASSWORD}\n")));
    assert!(out.status.success(), "{}", failure(&out));
    assert!(stdout(&out).contains("missing"), "{}", stdout(&out));
}

#[test]
fn credentials_from_an_auth_file_reach_the_builder_without_its_command_line() {
    let real = registry_and_buildah();
    let reg = start_auth_registry();
    let p = ImageProject::new(&real, "auth");
    p.file_context("secured", "x\n");
    let auth = serde_json::json!({"auths": {reg.address.clone(): {"auth": base64_encode(&format!("builder:{PASSWORD}"))}}});
    p.project.write("auth.json", &auth.to_string());
    let out = p
        .cmd(&["images", "--registry", &reg.address])
        .env("REGISTRY_AUTH_FILE", p.project.path("auth.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let calls = p.builder_calls().join("\n");
    assert!(
        calls.lines().any(|c| is_call(c, "push")) && calls.contains("--authfile"),
        "{calls}"
    );
    assert!(
        !calls.contains(PASSWORD)
            && !calls.contains(&base64_encode(&format!("builder:{PASSWORD}"))),
        "{calls}"
    );
    let log = p.project.read(".kube-openstack/logs/images/secured.log");
    assert!(!log.contains(PASSWORD), "{log}");
    let leftovers: Vec<_> = std::fs::read_dir(p.project.path(".kube-openstack"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with("registry-auth-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "the private auth file is removed: {leftovers:?}"
    );
}

fn base64_encode(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A `docker-credential-NAME` helper on PATH, as docker-credential-helpers' programs
/// speak: the registry on stdin, `{"ServerURL","Username","Secret"}` on stdout, or
/// `credentials not found in native keychain` and exit 1.
fn credential_helper(dir: &std::path::Path, name: &str, registry: &str, secret: &str) {
    use std::os::unix::fs::PermissionsExt;
    let script = format!(
        "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread server\necho \"$server\" >> \"$(dirname \"$0\")/asked-{name}\"\nif [ \"$server\" = '{registry}' ]; then\n  printf '{{\"ServerURL\":\"%s\",\"Username\":\"builder\",\"Secret\":\"%s\"}}' \"$server\" '{secret}'\nelse\n  echo 'credentials not found in native keychain'; exit 1\nfi\n"
    );
    let path = dir.join(format!("docker-credential-{name}"));
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn credentials_come_from_the_credential_helpers_config_json_names() {
    let reg = start_auth_registry();
    let p = crate::support::Project::new();
    p.write("docker/a/Dockerfile", "FROM scratch\n");
    let bin = p.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    credential_helper(&bin, "good", &reg.address, PASSWORD);
    credential_helper(&bin, "empty", "elsewhere:1", "x");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let list = |config: serde_json::Value| {
        p.write("docker-config/config.json", &config.to_string());
        p.cmd()
            .args(["images", "list", "--registry", &reg.address])
            .env("HOME", p.path(""))
            .env("DOCKER_CONFIG", p.path("docker-config"))
            .env("PATH", &path)
            .output()
            .unwrap()
    };
    // `credHelpers` for this registry wins over `credsStore` and over `auths`.
    let out = list(serde_json::json!({
        "credHelpers": {reg.address.clone(): "good"},
        "credsStore": "empty",
        "auths": {reg.address.clone(): {"auth": base64_encode("builder:wrong")}},
    }));
    assert!(out.status.success(), "{}", failure(&out));
    assert!(stdout(&out).contains("missing"), "{}", stdout(&out));
    assert_eq!(p.read("bin/asked-good"), format!("{}\n", reg.address));
    assert!(!stderr(&out).contains(PASSWORD), "{}", stderr(&out));

    // `credsStore` serves every registry.
    let out = list(serde_json::json!({"credsStore": "good"}));
    assert!(out.status.success(), "{}", failure(&out));

    // The `-v` trace shows the registry's requests, and never the credentials.
    let out = p
        .cmd()
        .args(["-v", "images", "list", "--registry", &reg.address])
        .env("HOME", p.path(""))
        .env("DOCKER_CONFIG", p.path("docker-config"))
        .env("PATH", &path)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "debug: GET http://{}/v2/ 401 Unauthorized in ",
            reg.address
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("debug: GET http://{}/v2/ 200 OK in ", reg.address)),
        "{err}"
    );
    let basic = base64_encode(&format!("builder:{PASSWORD}"));
    assert!(!err.contains(PASSWORD) && !err.contains(&basic), "{err}");

    // A helper with nothing stored for it: no credentials (the registry refuses).
    let out = list(serde_json::json!({"credsStore": "empty"}));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("refused the credentials (none were given)"),
        "{}",
        stderr(&out)
    );

    // A helper that is not there is named, with the file that names it.
    let out = list(serde_json::json!({"credHelpers": {reg.address.clone(): "absent"}}));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("credential helper `docker-credential-absent`")
            && err.contains("docker-config/config.json"),
        "{err}"
    );
}
