use crate::support::{Project, SERVICE, stderr, stdout};

fn project() -> Project {
    let p = Project::new();
    p.write("params.yaml", "name: web\ndb_password: Sup3rSecretPw\nreplicas: 1\n")
        .write("kubernetes-in/svc.yaml", SERVICE)
        .write(
            "kubernetes-in/app.yaml",
            "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: app\nspec:\n  replicas: {{replicas}}\n  template:\n    spec:\n      containers:\n      - name: app\n        image: app\n        env:\n        - name: DB_URI\n          value: mysql://u:{{db_password}}@db/app\n",
        );
    p
}

#[test]
fn diff_right_after_render_is_empty_and_exits_zero() {
    let p = project();
    p.with_params(&["render"]).assert().success();
    let out = p.with_params(&["diff"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("No changes"));
}

#[test]
fn changing_one_parameter_shows_exactly_the_affected_object_with_secrets_masked() {
    let p = project();
    p.with_params(&["render"]).assert().success();
    p.write(
        "params.yaml",
        "name: web\ndb_password: N3wSecretPw\nreplicas: 1\n",
    );
    let out = p.with_params(&["diff"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("~ ReplicationController/app (app.yaml)"),
        "{text}"
    );
    assert!(
        !text.contains("Service/"),
        "only the affected object: {text}"
    );
    assert!(
        !text.contains("Sup3rSecretPw") && !text.contains("N3wSecretPw"),
        "{text}"
    );
    assert!(
        text.contains("-          value: \"mysql://u:***")
            && text.contains("+          value: \"mysql://u:***"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("1 files: 0 objects added, 1 changed, 0 removed"),
        "{}",
        stderr(&out)
    );
    let shown = p.with_params(&["diff", "--show-secrets"]).output().unwrap();
    assert!(stdout(&shown).contains("N3wSecretPw") && stdout(&shown).contains("Sup3rSecretPw"));
}

#[test]
fn diff_json_lists_files_and_objects() {
    let p = project();
    let out = p.with_params(&["diff", "-o", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let objects: Vec<&str> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["objects"].as_array().unwrap())
        .map(|o| o["object"].as_str().unwrap())
        .collect();
    assert_eq!(objects, vec!["ReplicationController/app", "Service/web"]);
    assert!(!out.stdout.windows(13).any(|w| w == b"Sup3rSecretPw"));
}

#[test]
fn diff_against_another_directory_sees_removed_objects() {
    let p = project();
    p.with_params(&["render", "--output-dir", "before"])
        .assert()
        .success();
    std::fs::remove_file(p.path("kubernetes-in/svc.yaml")).unwrap();
    let out = p
        .with_params(&["diff", "--against", "before"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("- Service/web (svc.yaml)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn diff_errors_exit_two() {
    let p = project();
    p.write(
        "kubernetes-in/bad.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{undefined}}\n",
    );
    let out = p.with_params(&["diff"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn diff_names_the_workloads_a_changed_secret_restarts_and_no_value() {
    let rc = |name: &str, reads: &str| {
        format!(
            "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: {name}\nspec:\n  replicas: 1\n  selector: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n      - name: main\n        image: {name}\n{reads}"
        )
    };
    let p = Project::new();
    p.write("params.yaml", "db_password: Sup3rSecretPw\nrabbit_password: R4bbitSecretPw\n")
        .write(
            "kubernetes-in/db-secret.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {{db_password}}\n",
        )
        .write(
            "kubernetes-in/rabbit-secret.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: rabbit\nstringData:\n  password: {{rabbit_password}}\n",
        )
        .write(
            "kubernetes-in/keystone.yaml",
            &rc("keystone", "        env:\n        - name: DB\n          valueFrom: {secretKeyRef: {name: db, key: password}}\n"),
        )
        .write(
            "kubernetes-in/glance.yaml",
            &rc("glance", "        envFrom:\n        - secretRef: {name: db}\n"),
        )
        .write(
            "kubernetes-in/nova.yaml",
            &rc("nova", "        envFrom:\n        - secretRef: {name: rabbit}\n"),
        )
        .write("kubernetes-in/horizon.yaml", &rc("horizon", ""));
    p.with_params(&["render"]).assert().success();
    p.write(
        "params.yaml",
        "db_password: N3wSecretPw\nrabbit_password: R4bbitSecretPw\n",
    );

    let out = p.with_params(&["diff"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let restarts: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("restarts "))
        .collect();
    assert_eq!(
        restarts,
        [
            "restarts ReplicationController/glance: `Secret/db` changed",
            "restarts ReplicationController/keystone: `Secret/db` changed",
        ],
        "{text}"
    );
    assert!(
        !text.contains("Sup3rSecretPw") && !text.contains("N3wSecretPw"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("2 workloads restart"),
        "{}",
        stderr(&out)
    );

    let out = p.with_params(&["diff", "-o", "json"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = json["restarts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["object"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "ReplicationController/glance",
            "ReplicationController/keystone"
        ]
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("N3wSecretPw"));
}
