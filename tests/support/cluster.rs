//! A temporary project with a rendered tree and a fake Kubernetes API server, and
//! builders for the manifests the deploy tests use.

use crate::fake_kube::{FakeKube, Faults, LogEntry};
use crate::support::Project;
use std::process::Output;

pub const NS: &str = "test";

/// A project with a rendered tree and a fake cluster.
pub struct Cluster {
    pub fake: FakeKube,
    pub project: Project,
}

impl Cluster {
    pub fn new(faults: Faults) -> Cluster {
        let fake = FakeKube::start(faults);
        let project = Project::new();
        fake.write_kubeconfig(&project.path("kubeconfig"));
        Cluster { fake, project }
    }

    /// Writes `kubernetes/NAME` (the rendered tree `deploy` reads).
    pub fn manifest(&self, name: &str, text: &str) -> &Cluster {
        self.project.write(&format!("kubernetes/{name}"), text);
        self
    }

    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.project.path(&format!("kubernetes/{name}"))).unwrap();
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

    pub fn deploy(&self, args: &[&str]) -> Output {
        self.run("deploy", args)
    }

    /// Applies (not dry-run) in the order the server saw them: `(plural/name, start, end)`.
    pub fn applies(&self) -> Vec<(String, f64, f64)> {
        self.fake
            .log()
            .iter()
            .filter(|e| e.is_apply() && e.code != 0 && e.fault.is_none())
            .map(|e| (plural_name(e), e.start_ms, e.end_ms))
            .collect()
    }

    pub fn applied(&self, plural_name: &str) -> (f64, f64) {
        let a = self
            .applies()
            .into_iter()
            .find(|(o, _, _)| o == plural_name)
            .unwrap_or_else(|| panic!("{plural_name} was not applied"));
        (a.1, a.2)
    }
}

fn plural_name(e: &LogEntry) -> String {
    let parts: Vec<&str> = e.path.rsplit('/').take(2).collect();
    format!("{}/{}", parts[1], parts[0])
}

pub fn ok(out: &Output) {
    assert!(out.status.success(), "{}", crate::support::failure(out));
}

pub fn secret(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\nstringData:\n  password: s3cret-{name}-value\n"
    )
}

pub fn config_map(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: \"1\"\n")
}

pub fn service(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  selector:\n    app: {name}\n  ports:\n  - port: 80\n"
    )
}

fn annotations(deps: &str) -> String {
    if deps.is_empty() {
        String::new()
    } else {
        format!("  annotations:\n    kube-openstack/depends-on: \"{deps}\"\n")
    }
}

pub fn rc(name: &str, deps: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: {name}\n{}spec:\n  replicas: 2\n  selector:\n    app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: main\n        image: example/{name}:1\n",
        annotations(deps)
    )
}

pub fn one_shot_pod(name: &str, deps: &str, image: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n{}spec:\n  restartPolicy: OnFailure\n  containers:\n  - name: main\n    image: {image}\n    args: [sync]\n",
        annotations(deps)
    )
}

/// A small OpenStack-like tree: database, a db-sync pod, the API that needs it.
pub fn small_tree(c: &Cluster) {
    c.manifest("keystone-secret.yaml", &secret("keystone"))
        .manifest("keystone-config.yaml", &config_map("keystone-config"))
        .manifest("mariadb-service.yaml", &service("mariadb"))
        .manifest("mariadb-rc.yaml", &rc("mariadb", ""))
        .manifest(
            "keystone-db-sync-pod.yaml",
            &one_shot_pod(
                "keystone-db-sync",
                "ReplicationController/mariadb",
                "example/keystone:1",
            ),
        )
        .manifest("keystone-rc.yaml", &rc("keystone", "Pod/keystone-db-sync"));
}
