//! Where `deploy` connects and how (the namespace's precedence: `conventions.rs`): kubeconfig problems, exec-plugin
//! credentials, TLS verification; and objects that exist without the deployment's labels.

use crate::fake_kube::{FakeKube, Faults};
use crate::support::cluster::{Cluster, NS, config_map, ok, small_tree};
use crate::support::{stderr, stdout};

#[test]
fn cluster_configuration_problems_name_the_file_or_context_with_a_hint() {
    let c = Cluster::new(Faults::default());
    small_tree(&c);
    let out = c
        .project
        .cmd()
        .args(["deploy", "--kubeconfig", "missing.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("kubeconfig `missing.yaml` does not exist"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("hint: name the cluster with `--kubeconfig FILE`"),
        "{}",
        stderr(&out)
    );
    let out = c.deploy(&["--context", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
    let out = c
        .project
        .cmd()
        .args([
            "deploy",
            "--kubeconfig",
            "kubeconfig",
            "--manifests",
            "not-rendered",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("rendered tree `not-rendered` not found"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("hint: render the templates first"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_object_made_by_hand_is_adopted_and_reported_as_configured() {
    let c = Cluster::new(Faults::default());
    c.manifest("a.yaml", &config_map("a"));
    c.fake.insert(
        "namespaces",
        "",
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}),
    );
    c.fake.insert("configmaps", NS, serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"a": "0"}}));
    let out = c.deploy(&[]);
    ok(&out);
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.starts_with("ConfigMap/a") && l.contains(" configured ")),
        "{}",
        stdout(&out)
    );
    let cm = c.fake.object("configmaps", NS, "a").unwrap();
    assert_eq!(cm["data"]["a"], "1");
    assert_eq!(
        cm["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "kube-openstack"
    );
}

#[test]
fn credentials_come_from_the_kubeconfig_user_including_exec_plugins() {
    let c = Cluster::new(Faults {
        token: Some("from-the-plugin".into()),
        ..Faults::default()
    });
    c.manifest("a.yaml", &config_map("a"));
    let out = c.deploy(&[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "the kubeconfig's static token is refused"
    );
    assert!(
        stderr(&out).contains("401 Unauthorized")
            && stderr(&out).contains("hint: the kubeconfig user was refused"),
        "{}",
        stderr(&out)
    );
    c.project.write(
        "credential.sh",
        "#!/bin/sh\necho '{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": \"ExecCredential\", \"status\": {\"token\": \"from-the-plugin\"}}'\n",
    );
    std::fs::set_permissions(
        c.project.path("credential.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let kubeconfig = c.project.read("kubeconfig").replace(
        "    token: fake-token\n",
        &format!(
            "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\n",
            c.project.path("credential.sh").display()
        ),
    );
    c.project.write("kubeconfig", &kubeconfig);
    ok(&c.deploy(&[]));
    assert!(c.fake.object("configmaps", NS, "a").is_some());
}

#[test]
fn tls_is_verified_against_the_kubeconfigs_certificate_authority() {
    let fake = FakeKube::start_tls(Faults::default());
    let c = Cluster {
        fake,
        project: crate::support::Project::new(),
    };
    c.manifest("a.yaml", &config_map("a"));
    c.fake.write_kubeconfig(&c.project.path("kubeconfig"));
    ok(&c.deploy(&[]));
    assert!(c.fake.object("configmaps", NS, "a").is_some());
    // Without the CA the server's certificate is refused: TLS is verified, not just used.
    let without_ca: String = c
        .project
        .read("kubeconfig")
        .lines()
        .filter(|l| !l.contains("certificate-authority-data"))
        .map(|l| format!("{l}\n"))
        .collect();
    c.project.write("kubeconfig", &without_ca);
    let out = c.deploy(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).to_lowercase().contains("certificate"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn kinds_of_other_api_groups_work_through_discovery() {
    let c = Cluster::new(Faults::default());
    c.manifest(
        "migrate-job.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: m\n        image: example/migrate:1\n",
    );
    c.manifest(
        "web-deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n    kube-openstack/depends-on: Job/migrate\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: example/web:1\n",
    );
    ok(&c.deploy(&[]));
    let job = c.fake.object("jobs", NS, "migrate").unwrap();
    assert_eq!(job["status"]["conditions"][0]["type"], "Complete");
    let (job_start, _) = c.applied("jobs/migrate");
    let (web_start, _) = c.applied("deployments/web");
    assert!(
        web_start >= job_start + 200.0,
        "the Deployment waits for the Job to complete"
    );
    assert!(
        c.fake
            .log()
            .iter()
            .any(|e| e.path == "/apis/apps/v1/namespaces/test/deployments/web")
    );
}
