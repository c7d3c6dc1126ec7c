//! `up` end to end: local parameters, a template tree with an in-cluster registry, real
//! buildah pushing to the real Swift-backed registry, and the fake Kubernetes API server.
//! Runs that stop at every step boundary (and in the middle of the deploy) and are then
//! continued end as one uninterrupted run, with nothing done twice.

use crate::fake_kube::{FakeKube, Faults};
use crate::support::cluster::{Cluster, ok, small_tree};
use crate::support::images::{ImageProject, RealRegistry, registry_and_buildah};
use crate::support::{failure, stderr, stdout};
use std::process::Output;

pub const NS: &str = "up";

/// An image project (real registry + buildah) with a template tree and a fake cluster.
pub struct Up {
    pub images: ImageProject,
    pub fake: FakeKube,
}

const REGISTRY_SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: docker-registry\nstringData:\n  http-secret: {{registry_http_secret}}\n";
const REGISTRY_RC: &str = r#"apiVersion: v1
kind: ReplicationController
metadata:
  name: docker-registry
spec:
  replicas: 1
  selector:
    app: docker-registry
  template:
    metadata:
      labels:
        app: docker-registry
    spec:
      containers:
        - name: registry
          image: docker.io/library/registry:2
          env:
            - name: REGISTRY_HTTP_SECRET
              valueFrom:
                secretKeyRef: {name: docker-registry, key: http-secret}
          ports:
            - {name: registry, containerPort: 5000}
"#;
const REGISTRY_SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: docker-registry\nspec:\n  selector:\n    app: docker-registry\n  ports:\n    - port: 4999\n      targetPort: 5000\n";
const HELLO_DB_SYNC: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: hello-db-sync
spec:
  restartPolicy: OnFailure
  containers:
    - name: sync
      image: {{docker_registry}}/{{docker_image_prefix}}/hello:{{image_tag}}
      env:
        - {name: DB_PASSWORD, value: {{keystone_db_password}}}
"#;
const HELLO_RC: &str = r#"apiVersion: v1
kind: ReplicationController
metadata:
  name: hello
  annotations:
    kube-openstack/depends-on: "Pod/hello-db-sync"
spec:
  replicas: 2
  selector:
    app: hello
  template:
    metadata:
      labels:
        app: hello
    spec:
      containers:
        - name: hello
          image: {{docker_registry}}/{{docker_image_prefix}}/hello:{{image_tag}}
"#;

impl Up {
    pub fn new(reg: &RealRegistry, test: &str, faults: Faults) -> Up {
        let images = ImageProject::new(reg, test);
        let p = &images.project;
        let heat =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/heat/heat-setup.yaml"))
                .unwrap();
        p.write("heat/heat-setup.yaml", &heat)
            .write("kubernetes-in/docker-registry-secret.yaml", REGISTRY_SECRET)
            .write("kubernetes-in/docker-registry-rc.yaml", REGISTRY_RC)
            .write(
                "kubernetes-in/docker-registry-service.yaml",
                REGISTRY_SERVICE,
            )
            .write("kubernetes-in/hello-db-sync-pod.yaml", HELLO_DB_SYNC)
            .write("kubernetes-in/hello-rc.yaml", HELLO_RC);
        images.file_context("hello", "hello\n");
        let fake = FakeKube::start(faults);
        fake.write_kubeconfig(&p.path("kubeconfig"));
        Up { images, fake }
    }

    fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        self.cmd_in(NS, args)
    }

    fn cmd_in(&self, namespace: &str, args: &[&str]) -> assert_cmd::Command {
        let mut c = self
            .images
            .cmd(&["up", "--kubeconfig", "kubeconfig", "-n", namespace]);
        c.args(args);
        c
    }

    /// `up` as a process of our own, to interrupt.
    fn std_cmd(&self) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_kube-openstack"));
        let p = &self.images.project;
        c.current_dir(p.path(""))
            .args(["up", "--kubeconfig", "kubeconfig", "-n", NS])
            .env("CONTAINERS_STORAGE_CONF", p.path("storage.conf"))
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    p.path("bin").display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("HOME", p.path(""));
        c
    }

    pub fn up(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Builds (`bud`) and pushes the builder was asked for so far.
    fn builder(&self, verb: &str) -> usize {
        self.images
            .builder_calls()
            .iter()
            .filter(|c| c.split_whitespace().any(|w| w == verb))
            .count()
    }

    /// Requests that changed something (not dry runs): applies, creations, deletions.
    fn writes(&self) -> Vec<String> {
        self.fake
            .log()
            .iter()
            .filter(|e| e.method != "GET" && !e.query.contains("dryRun"))
            .map(|e| format!("{} {}", e.method, e.path))
            .collect()
    }

    fn state(&self) -> Vec<String> {
        deployed(&self.fake, NS)
    }

    /// The rendered tree's directory: replaced by every write of the tree.
    fn render_stamp(&self) -> std::fs::Metadata {
        std::fs::metadata(self.images.project.path("kubernetes")).unwrap()
    }
}

/// The deployed objects of `namespace` without what the server sets: what a run leaves.
fn deployed(fake: &FakeKube, namespace: &str) -> Vec<String> {
    let mut out = Vec::new();
    for plural in ["secrets", "services", "replicationcontrollers", "pods"] {
        for mut o in fake.objects(plural, namespace) {
            for k in [
                "resourceVersion",
                "uid",
                "creationTimestamp",
                "managedFields",
                "generation",
                "namespace",
                "labels",
            ] {
                o["metadata"].as_object_mut().unwrap().remove(k);
            }
            o.as_object_mut().unwrap().remove("status");
            if let Some(spec) = o.get_mut("spec").and_then(|s| s.as_object_mut()) {
                spec.remove("clusterIP");
            }
            out.push(format!("{plural}: {o}"));
        }
    }
    out.sort();
    out
}

/// The RESULT column of the summary table for `step`.
pub fn result(out: &Output, step: &str) -> String {
    let text = stdout(out);
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(step))
        .unwrap_or_else(|| panic!("no row for {step} in:\n{text}"));
    let rest = line[step.len()..].trim_start();
    [
        "up to date",
        "done",
        "would run",
        "skipped",
        "failed",
        "not run",
    ]
    .iter()
    .find(|r| rest.starts_with(**r))
    .unwrap_or_else(|| panic!("no result in `{line}`"))
    .to_string()
}

#[test]
fn up_from_nothing_then_again_does_nothing_but_check() {
    let reg = registry_and_buildah();
    let u = Up::new(&reg, "up-twice", Faults::default());
    let first = u.up(&[]);
    ok(&first);
    for step in ["params", "render", "registry", "images", "deploy"] {
        assert_eq!(result(&first, step), "done", "{step}\n{}", stdout(&first));
    }
    assert_eq!(result(&first, "db-sync"), "up to date", "the deploy ran it");
    assert_eq!(result(&first, "clean-jobs"), "skipped");
    assert_eq!(
        (u.builder("bud"), u.builder("push")),
        (1, 2),
        "one build, tag + content tag pushed"
    );
    let rc = u
        .fake
        .object("replicationcontrollers", NS, "hello")
        .expect("deployed");
    let image = rc["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        image.starts_with(&format!("{}/{}/hello:", reg.address, u.images.prefix)),
        "{image}"
    );
    let pod = u.fake.object("pods", NS, "hello-db-sync").unwrap();
    assert_eq!(pod["status"]["phase"], "Succeeded");
    // The registry step ran first: nothing pulling from the registry before it was ready.
    let applies: Vec<String> = u.writes();
    let pos = |needle: &str| {
        applies
            .iter()
            .position(|w| w.contains(needle))
            .unwrap_or_else(|| panic!("{needle} in {applies:?}"))
    };
    assert!(
        pos("replicationcontrollers/docker-registry") < pos("pods/hello-db-sync"),
        "{applies:?}"
    );
    // No secret on the terminal.
    let secret = u.images.project.read("kubernetes/hello-db-sync-pod.yaml");
    let password = secret
        .lines()
        .find(|l| l.contains("DB_PASSWORD"))
        .unwrap()
        .rsplit("value: ")
        .next()
        .unwrap()
        .trim_end_matches('}')
        .trim()
        .to_string();
    assert!(!stderr(&first).contains(&password) && !stdout(&first).contains(&password));

    let stamp = u.render_stamp();
    let before = u.state();
    u.fake.clear_log();
    let second = u.up(&[]);
    ok(&second);
    for step in [
        "params", "render", "registry", "images", "deploy", "db-sync",
    ] {
        assert_eq!(
            result(&second, step),
            "up to date",
            "{step}\n{}",
            stdout(&second)
        );
    }
    assert!(
        stderr(&second).contains("Up to date"),
        "{}",
        stderr(&second)
    );
    assert_eq!(
        (u.builder("bud"), u.builder("push")),
        (1, 2),
        "no build, no push"
    );
    assert_eq!(
        u.writes(),
        Vec::<String>::new(),
        "no apply, no create, no delete"
    );
    let reads = u.fake.log().len();
    assert!(reads <= 40, "a handful of reads, not {reads}");
    eprintln!("second up: {reads} requests, all reads");
    assert_eq!(
        u.render_stamp().modified().unwrap(),
        stamp.modified().unwrap(),
        "tree not rewritten"
    );
    assert_eq!(u.state(), before);
}

#[test]
fn up_stopped_at_every_step_boundary_ends_as_one_run() {
    let reg = registry_and_buildah();
    let u = Up::new(&reg, "up-steps", Faults::default());
    let steps = [
        "params", "render", "registry", "images", "deploy", "db-sync",
    ];
    for (i, step) in steps.iter().enumerate() {
        let out = u.up(&["--to", step]);
        ok(&out);
        for earlier in &steps[..i] {
            let r = result(&out, earlier);
            assert!(
                r == "up to date",
                "{earlier} redone after stopping at {step}: {r}\n{}",
                stdout(&out)
            );
        }
        assert_ne!(result(&out, step), "skipped");
        for later in &steps[i + 1..] {
            assert_eq!(
                result(&out, later),
                "skipped",
                "{later} ran with --to {step}"
            );
        }
    }
    let last = u.up(&[]);
    ok(&last);
    assert!(stderr(&last).contains("Up to date"), "{}", stderr(&last));
    assert_eq!(
        (u.builder("bud"), u.builder("push")),
        (1, 2),
        "built and pushed once"
    );
    assert_eq!(u.fake.max_creations(), 1, "no object created twice");

    // The same end state as one uninterrupted run in another namespace of the same cluster.
    let whole = u.cmd_in("up-whole", &[]).output().unwrap();
    ok(&whole);
    assert_eq!(deployed(&u.fake, "up-whole"), u.state());
}

#[test]
fn up_interrupted_in_the_middle_of_the_deploy_continues_where_it_stopped() {
    let reg = registry_and_buildah();
    let faults = Faults {
        pod_run_time: std::time::Duration::from_secs(3),
        ..Faults::default()
    };
    let u = Up::new(&reg, "up-sigint", faults);
    let child = u
        .std_cmd()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt while the db-sync pod runs: the deploy is half done.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(240);
    while !u.writes().iter().any(|w| w.contains("pods/hello-db-sync")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the deploy never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "{}", failure(&out));
    let err = stderr(&out);
    assert!(err.contains("interrupted"), "{err}");
    assert!(err.contains("kube-openstack up --from deploy"), "{err}");
    assert!(
        u.fake
            .object("replicationcontrollers", NS, "hello")
            .is_none(),
        "stopped before the RC"
    );

    let again = u.up(&[]);
    ok(&again);
    for step in ["params", "render", "registry", "images"] {
        assert_eq!(
            result(&again, step),
            "up to date",
            "{step}\n{}",
            stdout(&again)
        );
    }
    assert_eq!(result(&again, "deploy"), "done");
    assert_eq!(u.builder("bud"), 1, "not built again");
    assert_eq!(u.fake.max_creations(), 1, "no object created twice");
    assert!(
        u.fake
            .object("replicationcontrollers", NS, "hello")
            .is_some()
    );
}

#[test]
fn a_failing_step_stops_up_and_names_how_to_continue() {
    let reg = registry_and_buildah();
    let faults = Faults {
        fail_pods: vec!["hello-db-sync".into()],
        ..Faults::default()
    };
    let u = Up::new(&reg, "up-fail", faults);
    let out = u.up(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("`up` stopped at step `deploy`"), "{err}");
    assert!(err.contains("kube-openstack up --from deploy"), "{err}");
    assert!(
        err.contains("ERROR: cannot connect to the database"),
        "the pod's log: {err}"
    );
    assert_eq!(result(&out, "deploy"), "failed");
    assert!(
        !stdout(&out).contains("db-sync  "),
        "no step after the failed one"
    );

    u.fake.set_faults(|f| f.fail_pods.clear());
    let out = u.up(&["--from", "deploy"]);
    ok(&out);
    assert_eq!(result(&out, "params"), "skipped");
    assert_eq!(result(&out, "deploy"), "done");
    assert_eq!(
        u.fake.object("pods", NS, "hello-db-sync").unwrap()["status"]["phase"],
        "Succeeded"
    );
}

#[test]
fn dry_run_changes_nothing_and_says_what_each_step_would_do() {
    let reg = registry_and_buildah();
    let u = Up::new(&reg, "up-dry", Faults::default());
    let out = u.up(&["--dry-run"]);
    ok(&out);
    for step in ["params", "render", "registry", "images", "deploy"] {
        assert_eq!(result(&out, step), "would run", "{step}\n{}", stdout(&out));
    }
    let p = &u.images.project;
    assert!(!p.path("kubernetes").exists(), "nothing rendered");
    assert!(!p.path(".kube-openstack/up.json").exists(), "no record");
    assert!(
        !p.path(".kube-openstack/params.json").exists()
            || p.read(".kube-openstack/params.json").is_empty()
    );
    assert_eq!(u.builder("bud"), 0);
    assert_eq!(u.writes(), Vec::<String>::new(), "only dry-run requests");
}

#[test]
fn clean_jobs_deletes_finished_pods_and_their_absence_is_no_change() {
    let reg = registry_and_buildah();
    let u = Up::new(&reg, "up-clean", Faults::default());
    ok(&u.up(&[]));
    let out = u.up(&["--clean-jobs"]);
    ok(&out);
    assert_eq!(result(&out, "clean-jobs"), "done", "{}", stdout(&out));
    assert!(u.fake.object("pods", NS, "hello-db-sync").is_none());
    u.fake.clear_log();
    let again = u.up(&[]);
    ok(&again);
    assert!(stderr(&again).contains("Up to date"), "{}", stderr(&again));
    assert_eq!(
        u.writes(),
        Vec::<String>::new(),
        "the cleaned pod is not recreated"
    );
}

#[test]
fn when_only_the_cluster_reaches_the_registry_images_go_through_a_port_forward() {
    let reg = registry_and_buildah();
    let u = Up::new(&reg, "up-forward", Faults::default());
    ok(&u.up(&["--to", "registry"]));
    // A registry pod, running and ready, whose port 5000 the fake carries to the real
    // registry; nothing listens at the address `up` is told to push to.
    u.fake.insert(
        "pods",
        NS,
        serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "docker-registry-x7k2p", "namespace": NS,
                "labels": {"app": "docker-registry"}},
            "spec": {"containers": [{"name": "registry", "image": "docker.io/library/registry:2"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}),
    );
    u.fake.forward_port(
        crate::fake_kube::portforward::ANY_POD,
        5000,
        reg.address.parse().unwrap(),
    );
    let unused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = u.up(&["--registry-url", &unused.to_string()]);
    ok(&out);
    let err = stderr(&out);
    assert!(
        err.contains("Forwarding") && err.contains("docker-registry-x7k2p"),
        "{err}"
    );
    assert_eq!(result(&out, "images"), "done");
    let pushes: Vec<String> = u
        .images
        .builder_calls()
        .into_iter()
        .filter(|c| c.starts_with("push"))
        .collect();
    assert!(
        pushes
            .iter()
            .all(|p| p.contains(&format!("docker://{unused}/"))),
        "pushed through the forward: {pushes:?}"
    );
    // The registry got it under the name the nodes pull.
    let (status, _, _) = crate::support::images::http(
        "HEAD",
        &format!(
            "http://{}/v2/{}/manifests/latest",
            reg.address,
            u.images.repository("hello")
        ),
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
    );
    assert_eq!(status, 200);
}

#[test]
fn with_pin_images_the_deployed_tree_names_the_pushed_digests_and_stays_up_to_date() {
    let reg = registry_and_buildah();
    let u = Up::new(&reg, "up-pin", Faults::default());
    ok(&u.up(&["--pin-images"]));
    let lock: serde_json::Value =
        serde_json::from_str(&u.images.project.read(".kube-openstack/images.lock.json")).unwrap();
    let digest = lock["images"]["hello"]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let rc = u
        .fake
        .object("replicationcontrollers", NS, "hello")
        .unwrap();
    let image = rc["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        image.ends_with(&format!("@{digest}")),
        "{image} pinned to {digest}"
    );
    u.fake.clear_log();
    let again = u.up(&["--pin-images"]);
    ok(&again);
    assert!(stderr(&again).contains("Up to date"), "{}", stderr(&again));
    assert_eq!(u.writes(), Vec::<String>::new());
}

#[test]
fn up_with_a_state_dir_keeps_its_state_there_and_nowhere_else() {
    let c = Cluster::new(Faults::default());
    small_tree(&c);
    let out = c.run("up", &["--only", "deploy", "--state-dir", "state"]);
    ok(&out);
    assert!(
        c.project.path("state/up.json").is_file(),
        "{}",
        stderr(&out)
    );
    assert!(
        c.project.path("state/mask.key").is_file(),
        "the deployment's secrets are masked with the key of the state directory given"
    );
    assert!(
        !c.project.path(".kube-openstack").exists(),
        "nothing is written to the default state directory"
    );
}

#[test]
fn stack_parameters_given_to_up_name_the_images_it_pushes() {
    let reg = registry_and_buildah();
    let u = Up::new(&reg, "up-named", Faults::default());
    let prefix = format!("{}-given", u.images.prefix);
    let out = u.up(&[
        "--to",
        "images",
        "-P",
        &format!("docker_image_prefix={prefix}"),
    ]);
    ok(&out);
    let named = format!("{}/{prefix}/hello:", reg.address);
    let rendered = u.images.project.read("kubernetes/hello-rc.yaml");
    assert!(rendered.contains(&named), "{rendered}");
    let lock = u.images.project.read(".kube-openstack/images.lock.json");
    assert!(
        lock.contains(&format!("\"{named}")),
        "pushed under the name the templates use ({named}): {lock}"
    );
}
