//! What the real-pod tests share: a project with a rendered tree and a fake cluster whose
//! node runs every pod with podman; small test images (`FROM scratch` with
//! busybox-static) built with buildah and pushed to the real registry of
//! `scripts/dev-registry.sh` once per test run, under tags named by their content.
//!
//! These tests need podman, buildah, busybox-static and the registry. When one is
//! missing they fail, with or without `CI`: `scripts/test.sh` installs and starts them.

use crate::fake_kube::node::NodeOptions;
use crate::fake_kube::{FakeKube, Faults};
use crate::support::Project;
use crate::support::cluster::NS;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The test images, as pods name them.
pub struct TestImages {
    pub registry: String,
    /// busybox with its applets; no entrypoint, `CMD ["sh"]`.
    pub busybox: String,
    /// busybox with `ENTRYPOINT ["/bin/echo", "entrypoint"]` and `CMD ["from-cmd"]`.
    pub entrypoint: String,
}

fn need(program: &str, package: &str) {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|d| d.join(program).is_file());
    assert!(
        found,
        "the real-pod tests need `{program}` (apt-get install {package}); scripts/test.sh installs it"
    );
}

/// The registry the images go to: `KO_REGISTRY` (what `scripts/dev-registry.sh env`
/// prints), else its default address.
fn registry() -> String {
    let address = std::env::var("KO_REGISTRY")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "127.0.0.1:4999".into());
    let ok = Command::new("curl")
        .args(["-sf", "-o", "/dev/null", &format!("http://{address}/v2/")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "the real-pod tests need the registry at {address}: run `scripts/dev-registry.sh start` (scripts/test.sh does)"
    );
    address
}

/// Builds and pushes the test images unless the registry already has them.
pub fn images() -> &'static TestImages {
    static IMAGES: OnceLock<TestImages> = OnceLock::new();
    IMAGES.get_or_init(|| {
        for (program, package) in [
            ("podman", "podman runc catatonit"),
            ("buildah", "buildah"),
            ("curl", "curl"),
        ] {
            need(program, package);
        }
        let registry = registry();
        let busybox = std::fs::read("/bin/busybox")
            .or_else(|_| std::fs::read("/usr/bin/busybox"))
            .expect("the real-pod tests need busybox-static (apt-get install busybox-static)");
        let base = "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n";
        let plain = format!("{base}CMD [\"sh\"]\n");
        let entry = format!(
            "{base}ENTRYPOINT [\"/bin/echo\", \"entrypoint\"]\nCMD [\"from-cmd\"]\n"
        );
        TestImages {
            busybox: build(&registry, "busybox", &busybox, &plain),
            entrypoint: build(&registry, "entrypoint", &busybox, &entry),
            registry,
        }
    })
}

/// `REGISTRY/kube-openstack-tests/NAME:HASH`, built in a storage of its own (so the
/// node's podman must pull it from the registry) unless the registry has that tag.
fn build(registry: &str, name: &str, busybox: &[u8], dockerfile: &str) -> String {
    let mut h = Sha256::new();
    h.update(busybox);
    h.update(dockerfile.as_bytes());
    let hash: String = format!("{:x}", h.finalize()).chars().take(16).collect();
    let image = format!("{registry}/kube-openstack-tests/{name}:{hash}");
    let url = format!("http://{registry}/v2/kube-openstack-tests/{name}/manifests/{hash}");
    let present = Command::new("curl")
        .args([
            "-sf",
            "-o",
            "/dev/null",
            "-I",
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
            &url,
        ])
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return image;
    }
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("busybox"), busybox).unwrap();
    crate::support::images::set_mode(&ctx.join("busybox"), 0o755);
    std::fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    let root = dir.path().join("root").display().to_string();
    let runroot = dir.path().join("run").display().to_string();
    let buildah = |args: &[&str]| {
        let out = Command::new("buildah")
            .args([
                "--storage-driver",
                "vfs",
                "--root",
                &root,
                "--runroot",
                &runroot,
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "buildah {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    buildah(&[
        "bud",
        "--isolation",
        "chroot",
        "-t",
        &image,
        &ctx.display().to_string(),
    ]);
    buildah(&[
        "push",
        "--tls-verify=false",
        &image,
        &format!("docker://{image}"),
    ]);
    image
}

/// A project with a rendered tree and a cluster whose pods are real.
pub struct RealCluster {
    pub fake: FakeKube,
    pub project: Project,
    pub images: &'static TestImages,
}

impl RealCluster {
    /// A cluster named after `test`, with the kubelet's restart back-off.
    pub fn new(test: &str) -> RealCluster {
        Self::with(NodeOptions::new(test))
    }

    /// The same with a short back-off (0, 1, 2, 4 s), to see `CrashLoopBackOff` soon.
    pub fn quick(test: &str) -> RealCluster {
        let mut opts = NodeOptions::new(test);
        opts.backoff = Duration::from_secs(1);
        opts.backoff_max = Duration::from_secs(4);
        Self::with(opts)
    }

    pub fn with(opts: NodeOptions) -> RealCluster {
        let images = images();
        let fake = FakeKube::start_real(Faults::default(), opts)
            .unwrap_or_else(|e| panic!("the real-pod cluster does not start: {e}"));
        let project = Project::new();
        fake.write_kubeconfig(&project.path("kubeconfig"));
        RealCluster {
            fake,
            project,
            images,
        }
    }

    /// Writes `kubernetes/NAME` (the rendered tree the cluster commands read).
    pub fn manifest(&self, name: &str, text: &str) -> &RealCluster {
        self.project.write(&format!("kubernetes/{name}"), text);
        self
    }

    /// `kube-openstack COMMAND --kubeconfig kubeconfig -n test ARGS`.
    pub fn run(&self, command: &str, args: &[&str]) -> Output {
        self.project
            .cmd()
            .arg(command)
            .args(["--kubeconfig", "kubeconfig", "-n", NS])
            .args(args)
            .output()
            .unwrap()
    }

    pub fn object(&self, plural: &str, name: &str) -> Option<Value> {
        self.fake.object(plural, NS, name)
    }

    pub fn pod(&self, name: &str) -> Value {
        self.object("pods", name)
            .unwrap_or_else(|| panic!("no pod `{name}`"))
    }

    /// The pods a controller (by name) owns.
    pub fn pods_of(&self, owner: &str) -> Vec<Value> {
        self.fake
            .objects("pods", NS)
            .into_iter()
            .filter(|p| p["metadata"]["ownerReferences"][0]["name"] == owner)
            .collect()
    }

    /// Polls `f` until it gives a value, failing after `limit` with `what`.
    pub fn wait_for<T>(&self, what: &str, limit: Duration, f: impl Fn() -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(
                start.elapsed() < limit,
                "waited {limit:?} for {what}; pods: {}",
                serde_json::to_string_pretty(&self.fake.objects("pods", NS)).unwrap()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Every pod's phase, container states and events: for failure messages.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        for p in self.fake.objects("pods", NS) {
            out.push_str(&format!(
                "pod {} {} ip={}\n",
                p["metadata"]["name"].as_str().unwrap_or("?"),
                p["status"]["phase"],
                p["status"]["podIP"]
            ));
            for s in p["status"]["containerStatuses"]
                .as_array()
                .into_iter()
                .flatten()
            {
                out.push_str(&format!(
                    "  {} ready={} restarts={} state={} last={}\n",
                    s["name"], s["ready"], s["restartCount"], s["state"], s["lastState"]
                ));
            }
            for (t, r, m) in self.events(&p) {
                out.push_str(&format!("  event {t} {r}: {m}\n"));
            }
        }
        out
    }

    /// The events about an object: `(type, reason, message)`.
    pub fn events(&self, obj: &Value) -> Vec<(String, String, String)> {
        let uid = obj["metadata"]["uid"].as_str().unwrap_or_default();
        self.fake
            .objects("events", NS)
            .iter()
            .filter(|e| e["involvedObject"]["uid"] == uid)
            .map(|e| {
                let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
                (s("type"), s("reason"), s("message"))
            })
            .collect()
    }

    /// `GET .../pods/NAME/log?QUERY` through the API server: status and body.
    pub fn log(&self, name: &str, query: &str) -> (u16, String) {
        let url = format!(
            "{}/api/v1/namespaces/{NS}/pods/{name}/log?{query}",
            self.fake.url()
        );
        let out = Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}", &url])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.parse().unwrap_or(0), body.to_string())
    }

    /// Runs `command` in the running container of pod `pod` (`None`: it has none) with
    /// `env`, whose values reach podman through its environment, not its arguments.
    pub fn exec(&self, pod: &str, env: &[(&str, &str)], command: &[&str]) -> Option<Output> {
        let containers = self.containers_of(pod);
        let id = containers
            .iter()
            .find(|k| k["State"] == "running")
            .and_then(|k| k["Id"].as_str())?;
        let mut cmd = Command::new("podman");
        cmd.arg("exec");
        for (k, v) in env {
            cmd.args(["--env", k]).env(k, v);
        }
        cmd.arg(id).args(command).output().ok()
    }

    /// The podman containers this cluster's node has, as `podman ps -a` shows them.
    pub fn containers(&self) -> Vec<Value> {
        let node = self.fake.node().expect("a real-pod cluster");
        let out = Command::new("podman")
            .args([
                "ps",
                "-a",
                "--filter",
                &format!(
                    "label={}={}",
                    crate::fake_kube::node::podman::INSTANCE_LABEL,
                    node.instance
                ),
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&out.stdout)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }

    /// The containers of pod `name` (not its infra container).
    pub fn containers_of(&self, name: &str) -> Vec<Value> {
        self.containers()
            .into_iter()
            .filter(|c| c["Labels"]["io.kubernetes.pod.name"] == name)
            .filter(|c| c["Labels"].get("io.kubernetes.container.name").is_some())
            .collect()
    }
}

/// A one-container pod of `image`: `restartPolicy`, then the container's fields as YAML
/// lines (indented by four spaces), then any pod-level YAML.
pub fn pod(name: &str, image: &str, restart: &str, container: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\nspec:\n  restartPolicy: {restart}\n  terminationGracePeriodSeconds: 5\n  automountServiceAccountToken: false\n  containers:\n  - name: main\n    image: {image}\n{container}{extra}"
    )
}

/// The first container status of a pod.
pub fn container_status(pod: &Value) -> &Value {
    &pod["status"]["containerStatuses"][0]
}

/// `state.waiting.reason` of the pod's first container, if it waits.
pub fn waiting_reason(pod: &Value) -> Option<String> {
    container_status(pod)
        .pointer("/state/waiting/reason")
        .and_then(Value::as_str)
        .map(str::to_string)
}
