//! The shipped `docker/` tree, built and pushed by `kube-openstack images` to the real
//! registry (from nothing on a fresh machine; `scripts/test.sh` runs the same build first,
//! so in CI this test finds everything up to date), then every image pulled back from
//! the registry and run with podman: its main program answers, as its own user, and the
//! readiness checks the manifests use answer only when the service does.
//!
//! Builds go to the machine's own image store and the shipped naming (prefix
//! `kube-openstack` on the test registry), so a rerun rebuilds nothing.

use crate::images_tree::{copy_dir, repo_root, shipped_contexts};
use crate::support::images::{assert_images_ok, http, registry_and_buildah, require_program};
use crate::support::{Project, failure, stderr, stdout};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What each runnable image runs to prove its main program is there: a program and its
/// arguments, and a piece of what it prints.
const SMOKE: &[(&str, &[&str], &str)] = &[
    ("keystone", &["keystone-manage", "--version"], "22."),
    ("glance", &["glance-api", "--version"], "25."),
    ("placement", &["placement-manage", "--version"], "8."),
    ("nova", &["nova-manage", "--version"], "26."),
    (
        "neutron",
        &["neutron-server", "--version"],
        "neutron-server 21.",
    ),
    ("cinder", &["cinder-manage", "--version"], "21."),
    (
        "swift",
        &["swift-proxy-server", "--help"],
        "Usage: swift-proxy-server",
    ),
    (
        "openstack-client",
        &["openstack", "--version"],
        "openstack 6.",
    ),
    ("mariadb", &["mariadbd", "--version"], "MariaDB"),
    ("rabbitmq", &["rabbitmqctl", "version"], "3.10."),
    ("memcached", &["memcached", "--version"], "memcached 1.6"),
    (
        "docker-registry",
        &["docker-registry", "--version"],
        "distribution",
    ),
];

/// The shipped contexts built and pushed, once per test run (the tests here share it);
/// each image's pullable reference, by content tag, which no other tree's build moves.
fn shipped() -> &'static BTreeMap<String, String> {
    static SHIPPED: OnceLock<(Project, BTreeMap<String, String>)> = OnceLock::new();
    &SHIPPED
        .get_or_init(|| {
            let p = Project::new();
            let refs = build_shipped(&p);
            (p, refs)
        })
        .1
}

fn build_shipped(p: &Project) -> BTreeMap<String, String> {
    let reg = registry_and_buildah();
    let base = Command::new(repo_root().join("scripts/debian-base.sh"))
        .output()
        .unwrap();
    assert!(base.status.success(), "debian-base.sh: {}", stderr(&base));
    copy_dir(&repo_root().join("docker"), &p.path("docker"));
    p.write(
        "kube-openstack.yaml",
        &format!("registry: {}\nimage_prefix: kube-openstack\n", reg.address),
    );
    let out = p.cmd().args(["images"]).output().unwrap();
    assert_images_ok(&out, &p.path(".kube-openstack"));
    let err = stderr(&out);
    assert!(
        !err.contains("Building") || err.contains("     Storage "),
        "a run that builds names its storage driver: {err}"
    );

    // Nothing changed: the second run only looks.
    let again = p.cmd().args(["images"]).output().unwrap();
    assert_images_ok(&again, &p.path(".kube-openstack"));
    let again_err = stderr(&again);
    assert!(
        !again_err.contains("Building"),
        "an unchanged tree is not rebuilt: {again_err}"
    );
    let contexts = shipped_contexts();
    let total = contexts.bases.len() + contexts.runnable.len();
    assert!(
        again_err.contains(&format!("Finished {total} images in"))
            && again_err.contains(&format!("0 built and pushed, {total} up to date")),
        "{again_err}"
    );

    let list = p
        .cmd()
        .args(["images", "list", "-o", "json"])
        .output()
        .unwrap();
    assert!(list.status.success(), "{}", failure(&list));
    let listed: Vec<Value> = serde_json::from_str(&stdout(&list)).unwrap();
    let mut refs = BTreeMap::new();
    for image in &listed {
        let name = image["name"].as_str().unwrap().to_string();
        let content_tag = image["content_tag"].as_str().unwrap();
        // By content tag: `latest` of the shared prefix may have moved since (another
        // checkout of the tree pushing the same names); the content tag cannot.
        let (status, _, _) = http(
            "HEAD",
            &format!(
                "http://{}/v2/kube-openstack/{name}/manifests/{content_tag}",
                reg.address
            ),
            &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
        );
        assert_eq!(status, 200, "{name}:{content_tag} is in the registry");
        let reference = image["reference"].as_str().unwrap();
        let repo = reference.rsplit_once(':').unwrap().0;
        refs.insert(name, format!("{repo}:{content_tag}"));
    }
    let all: BTreeSet<String> = contexts.bases.union(&contexts.runnable).cloned().collect();
    assert_eq!(refs.keys().cloned().collect::<BTreeSet<_>>(), all);
    refs
}

/// podman with the limits this machine's runtimes need (see CONTRIBUTING.md).
struct Podman {
    conf: tempfile::NamedTempFile,
}

impl Podman {
    fn new() -> Podman {
        require_program("podman", "podman runc catatonit");
        let conf = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            conf.path(),
            "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n[engine]\nruntime = \"runc\"\n",
        )
        .unwrap();
        Podman { conf }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("podman")
            .args(args)
            .env("CONTAINERS_CONF", self.conf.path())
            .output()
            .unwrap()
    }

    /// Runs `program args` in a fresh container of `image` pulled from the registry.
    fn once(&self, image: &str, program: &str, args: &[&str]) -> Output {
        let mut all = vec![
            "run",
            "--rm",
            "--network",
            "none",
            "--pull",
            "always",
            "--tls-verify=false",
            "--entrypoint",
            program,
            image,
        ];
        all.extend_from_slice(args);
        self.run(&all)
    }
}

/// A container started for a test, removed when the test ends (also on failure).
struct Running<'a> {
    podman: &'a Podman,
    name: String,
}

impl<'a> Running<'a> {
    fn start(podman: &'a Podman, test: &str, extra: &[&str], image: &str, args: &[&str]) -> Self {
        let name = format!("ko-test-{}-{test}", std::process::id());
        let mut all = vec!["run", "-d", "--name", &name, "--network", "none"];
        all.extend_from_slice(extra);
        all.extend_from_slice(&["--tls-verify=false", image]);
        all.extend_from_slice(args);
        let out = podman.run(&all);
        assert!(out.status.success(), "podman run {image}: {}", stderr(&out));
        Running { podman, name }
    }

    fn exec(&self, command: &[String]) -> Output {
        let mut all = vec!["exec".to_string(), self.name.clone()];
        all.extend_from_slice(command);
        let args: Vec<&str> = all.iter().map(String::as_str).collect();
        self.podman.run(&args)
    }

    /// Runs the probe until it succeeds (the service is ready) or `within` passes.
    fn wait_ready(&self, probe: &[String], within: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let out = self.exec(probe);
            if out.status.success() {
                return start.elapsed();
            }
            if start.elapsed() > within {
                let logs = self.podman.run(&["logs", &self.name]);
                panic!(
                    "`{}` never succeeded within {within:?}: {}{}\n--- container log\n{}{}",
                    probe.join(" "),
                    stdout(&out),
                    stderr(&out),
                    stdout(&logs),
                    stderr(&logs)
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let _ = self.podman.run(&["rm", "-f", "-t", "2", &self.name]);
    }
}

/// The shipped tree rendered on its defaults, each file read back as YAML.
struct Rendered(Project);

impl Rendered {
    fn new() -> Rendered {
        let p = Project::new();
        let root = repo_root();
        for dir in ["heat", "kubernetes-in"] {
            copy_dir(&root.join(dir), &p.path(dir));
        }
        std::fs::copy(
            root.join("kube-openstack.yaml"),
            p.path("kube-openstack.yaml"),
        )
        .unwrap();
        let out = p.cmd().args(["render"]).output().unwrap();
        assert!(out.status.success(), "{}", failure(&out));
        Rendered(p)
    }

    fn file(&self, name: &str) -> serde_yaml::Value {
        let text = std::fs::read_to_string(self.0.path("kubernetes").join(name)).unwrap();
        serde_yaml::from_str(&text).unwrap()
    }
}

/// The exec readiness probe of the pod template's container `name`.
fn probe(rc: &serde_yaml::Value, name: &str) -> Vec<String> {
    let containers = rc["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .unwrap();
    let c = containers
        .iter()
        .find(|c| c["name"].as_str() == Some(name))
        .unwrap();
    c["readinessProbe"]["exec"]["command"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{name} has an exec readiness probe"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_shipped_image_is_built_pushed_and_runs_its_program_as_its_own_user() {
    let podman = Podman::new();
    let refs = shipped();

    let runnable = shipped_contexts().runnable;
    let smoked: BTreeSet<String> = SMOKE.iter().map(|(n, _, _)| n.to_string()).collect();
    assert_eq!(
        smoked, runnable,
        "every runnable image has a smoke command here"
    );
    for (name, command, expect) in SMOKE {
        let out = podman.once(&refs[*name], command[0], &command[1..]);
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            out.status.success() && text.contains(expect),
            "{name}: `{}` ({}): {text}",
            command.join(" "),
            out.status
        );
        let id = podman.once(&refs[*name], "id", &["-u"]);
        assert!(id.status.success(), "{name}: {}", stderr(&id));
        assert_ne!(
            stdout(&id).trim(),
            "0",
            "{name} runs as its own user, not root"
        );
    }

    // The OpenStack images' entrypoint renders their config from the environment.
    let out = podman.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--tls-verify=false",
        "-e",
        "DB_URI=sqlite:////tmp/keystone.db",
        "-e",
        "ADMIN_TOKEN=t0ken",
        &refs["keystone"],
        "sh",
        "-c",
        "id -un; grep ^connection /etc/keystone/keystone.conf; ls /etc/keystone/fernet-keys",
    ]);
    let text = stdout(&out);
    assert!(
        out.status.success()
            && text.starts_with("keystone\n")
            && text.contains("connection = sqlite:////tmp/keystone.db")
            && text.contains("\n0\n1\n"),
        "keystone.conf and the fernet keys from the environment: {text}{}",
        stderr(&out)
    );
}

#[test]
fn the_readiness_checks_of_the_manifests_answer_only_when_the_service_does() {
    let podman = Podman::new();
    let refs = shipped();
    let tree = Rendered::new();
    let p = Project::new();

    // Without a running server every check fails: none of them is a constant.
    for (name, container, file) in [
        ("mariadb", "mariadb", "mariadb-rc.yaml"),
        ("rabbitmq", "rabbitmq", "rabbitmq-rc.yaml"),
        ("memcached", "memcached", "memcached-rc.yaml"),
    ] {
        let check = probe(&tree.file(file), container);
        let out = podman.once(
            &refs[name],
            &check[0],
            &check[1..].iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert!(
            !out.status.success(),
            "{name}: `{}` passed with no server",
            check.join(" ")
        );
    }

    // MariaDB: the probe answers once the server initialised its data directory; the
    // mariadb-users pod's script, run against it as root, makes the service users, and
    // run again with a changed password it changes that password on the running
    // server, keeping the data.
    let secret = tree.file("mariadb-secret.yaml");
    let users = tree.file("mariadb-users-secret.yaml");
    let users_dir = p.path("mariadb-users");
    std::fs::create_dir_all(&users_dir).unwrap();
    let write_users = |keystone: &str| {
        for (name, value) in users["stringData"].as_mapping().unwrap() {
            let (name, mut value) = (name.as_str().unwrap(), value.as_str().unwrap());
            if name == "keystone_admin" {
                value = keystone;
            }
            std::fs::write(users_dir.join(name), value).unwrap();
        }
    };
    let first = users["stringData"]["keystone_admin"]
        .as_str()
        .unwrap()
        .to_string();
    write_users(&first);
    let root_password = secret["stringData"]["root-password"].as_str().unwrap();
    let mount = format!("{}:/etc/mariadb-users:ro", users_dir.display());
    let env = format!("MARIADB_ROOT_PASSWORD={root_password}");
    let db = Running::start(
        &podman,
        "mariadb",
        &["-e", &env, "-v", &mount],
        &refs["mariadb"],
        &[],
    );
    db.wait_ready(
        &probe(&tree.file("mariadb-rc.yaml"), "mariadb"),
        Duration::from_secs(180),
    );
    let pod = tree.file("mariadb-users-pod.yaml");
    let script = pod["spec"]["containers"][0]["args"][2]
        .as_str()
        .unwrap()
        .to_string();
    let run_users = |root: &str| {
        db.exec(&[
            "env".into(),
            format!("MYSQL_PWD={root}"),
            "DATABASE_HOST=127.0.0.1".into(),
            "sh".into(),
            "-c".into(),
            script.clone(),
        ])
    };
    let logs_in = |password: &str, sql: &str| {
        db.exec(&[
            "mariadb".into(),
            "--protocol=tcp".into(),
            "--host=127.0.0.1".into(),
            "--user=keystone_admin".into(),
            format!("--password={password}"),
            format!("--execute={sql}"),
            "keystone".into(),
        ])
    };
    let made = run_users(root_password);
    assert!(made.status.success(), "{}", failure(&made));
    let login = logs_in(
        &first,
        "CREATE TABLE kept (v INT); INSERT INTO kept VALUES (7)",
    );
    assert!(
        login.status.success(),
        "keystone_admin logs in: {}",
        failure(&login)
    );

    // A wrong root password changes nothing and says why.
    write_users("second-Pa55word");
    let refused = run_users("not-the-root-password");
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("cannot log in as root")
            && stderr(&refused).contains("no user changed"),
        "{}",
        stderr(&refused)
    );
    assert!(
        logs_in(&first, "SELECT 1").status.success(),
        "the old password still works"
    );

    // The rotation: the new password in, the old one out, the data kept.
    let rotated = run_users(root_password);
    assert!(rotated.status.success(), "{}", failure(&rotated));
    assert!(
        !logs_in(&first, "SELECT 1").status.success(),
        "the old password is refused"
    );
    let after = logs_in("second-Pa55word", "SELECT v FROM kept");
    assert!(after.status.success(), "{}", failure(&after));
    assert!(
        stdout(&after).contains('7'),
        "the data is kept: {}",
        stdout(&after)
    );
    let again = run_users(root_password);
    assert!(
        again.status.success(),
        "a rerun changes nothing: {}",
        failure(&again)
    );
    assert!(logs_in("second-Pa55word", "SELECT 1").status.success());

    let root = db.exec(&[
        "mariadb".into(),
        "--protocol=tcp".into(),
        "--host=127.0.0.1".into(),
        "--user=root".into(),
        "--execute=SELECT 1".into(),
    ]);
    assert!(!root.status.success(), "root needs its password over TCP");

    // RabbitMQ: ready when its listeners accept connections; the user of the manifest's
    // environment logs in.
    let rabbit = Running::start(
        &podman,
        "rabbitmq",
        &[
            "-e",
            "RABBITMQ_DEFAULT_USER=openstack",
            "-e",
            "RABBITMQ_DEFAULT_PASS=s3cret-Pass",
        ],
        &refs["rabbitmq"],
        &[],
    );
    rabbit.wait_ready(
        &probe(&tree.file("rabbitmq-rc.yaml"), "rabbitmq"),
        Duration::from_secs(120),
    );
    let auth = rabbit.exec(&[
        "rabbitmqctl".into(),
        "-q".into(),
        "authenticate_user".into(),
        "openstack".into(),
        "s3cret-Pass".into(),
    ]);
    assert!(auth.status.success(), "{}{}", stdout(&auth), stderr(&auth));

    // memcached, with the manifest's own args.
    let rc = tree.file("memcached-rc.yaml");
    let args: Vec<String> = rc["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let cache = Running::start(&podman, "memcached", &[], &refs["memcached"], &args);
    cache.wait_ready(&probe(&rc, "memcached"), Duration::from_secs(30));

    // The registry: GET /v2/ (the manifests' httpGet probe) answers 200 inside its pod.
    let registry = Running::start(&podman, "registry", &[], &refs["docker-registry"], &[]);
    let get = [
        "bash".to_string(),
        "-c".into(),
        "exec 3<>/dev/tcp/127.0.0.1/5000 && printf 'GET /v2/ HTTP/1.0\\r\\n\\r\\n' >&3 && head -1 <&3 | grep -q ' 200 '".into(),
    ];
    registry.wait_ready(&get, Duration::from_secs(30));
}
