use super::*;
use crate::deploy::manifest::parse_file;
use std::path::Path;

const CLIENT: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: openstack-client}
spec:
  containers:
    - name: openstack-client
      image: localhost:4999/kube-openstack/openstack-client:latest
      args: [sleep, infinity]
      env:
        - {name: OS_AUTH_URL, value: "http://keystone:5000/v3"}
        - name: OS_PASSWORD
          valueFrom: {secretKeyRef: {name: openstack-client, key: admin-password}}
        - name: DEMO_PASSWORD
          valueFrom: {secretKeyRef: {name: openstack-client, key: demo-password}}
"#;

fn service(name: &str, user: &str, secret: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: ReplicationController
metadata: {{name: {name}}}
spec:
  template:
    spec:
      containers:
        - name: {name}
          image: i
          env:
            - {{name: SERVICE_USER, value: {user}}}
            - name: ADMIN_PASSWORD
              valueFrom: {{secretKeyRef: {{name: {secret}, key: admin-password}}}}
"#
    )
}

fn tree(texts: &[String]) -> Vec<Manifest> {
    texts
        .iter()
        .enumerate()
        .flat_map(|(i, t)| parse_file(Path::new(&format!("{i}.yaml")), t).unwrap())
        .collect()
}

fn env_of(pod: &Value) -> BTreeMap<String, Value> {
    pod["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_string(), e.clone()))
        .collect()
}

#[test]
fn the_pod_runs_the_client_image_with_the_admin_and_every_service_password_by_reference() {
    let t = tree(&[
        CLIENT.to_string(),
        service("glance-api", "glance", "glance"),
        service("nova-api", "nova", "nova"),
        service("nova-conductor", "nova", "nova"),
        service("nova-metadata", "nova", "nova-other"),
    ]);
    let pod = pod(&t, "ns", "ns").unwrap();
    let c = &pod["spec"]["containers"][0];
    assert_eq!(
        c["image"],
        "localhost:4999/kube-openstack/openstack-client:latest"
    );
    assert_eq!(pod["spec"]["restartPolicy"], "Never");
    assert_eq!(pod["metadata"]["labels"][DEPLOYMENT_LABEL], "ns");
    let env = env_of(&pod);
    assert!(env.contains_key("OS_AUTH_URL") && env.contains_key("OS_PASSWORD"));
    assert!(
        !env.contains_key("DEMO_PASSWORD"),
        "only the OS_* variables"
    );
    // nova once per place its pods read the password from, glance once.
    let users = env["KO_VERIFY_USERS"]["value"].as_str().unwrap();
    let pairs: Vec<&str> = users.split(' ').collect();
    assert_eq!(pairs.len(), 3, "{users}");
    for pair in pairs {
        let (_, var) = pair.split_once(':').unwrap();
        assert!(env[var]["valueFrom"]["secretKeyRef"]["name"].is_string());
        assert!(
            env[var].get("value").is_none(),
            "a reference, never a value"
        );
    }
    assert!(users.contains("glance:") && users.matches("nova:").count() == 2);
}

#[test]
fn a_tree_without_the_client_pod_is_refused_saying_so() {
    let t = tree(&[service("glance-api", "glance", "glance")]);
    let err = pod(&t, "ns", "ns").unwrap_err();
    assert!(matches!(err, VerifyError::NoClient), "{err}");
    assert!(err.to_string().contains("openstack-client"));
}

#[test]
fn lines_are_checks_or_kept_as_text() {
    let line = Line::parse(r#"{"service": "glance", "check": "x", "ok": false, "detail": "d"}"#);
    assert_eq!(
        line,
        Line::Check(Check {
            service: "glance".into(),
            check: "x".into(),
            ok: false,
            detail: "d".into()
        })
    );
    assert_eq!(
        Line::parse("Traceback (most recent call last):"),
        Line::Other("Traceback (most recent call last):".into())
    );
}

fn check(service: &str, name: &str, ok: bool) -> Check {
    Check {
        service: service.into(),
        check: name.into(),
        ok,
        detail: format!("{name} detail"),
    }
}

#[test]
fn the_outcome_names_each_broken_service_once_with_its_first_reason() {
    let checks = [
        check("keystone", "token", true),
        check("glance", "public endpoint", false),
        check("glance", "upload", false),
        check("nova", "compute service list", false),
    ];
    let err = outcome(&checks).unwrap_err().to_string();
    assert_eq!(
        err,
        "2 of the cloud's services failed their checks: glance (public endpoint: public endpoint detail, upload); nova (compute service list: compute service list detail)"
    );
    assert!(outcome(&checks[..1]).is_ok());
}

#[test]
fn a_pod_that_checked_nothing_or_died_after_passing_checks_is_no_pass() {
    let err = finished(vec![], &["Traceback".into()], "Failed").unwrap_err();
    assert!(err.to_string().contains("Traceback"), "{err}");
    let err = finished(vec![check("k", "t", true)], &["boom".into()], "Failed").unwrap_err();
    assert!(err.to_string().contains("boom"), "{err}");
    assert_eq!(
        finished(vec![check("k", "t", false)], &[], "Failed")
            .unwrap()
            .len(),
        1
    );
}
