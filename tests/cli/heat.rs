//! The Heat source and `stack` against the fake Keystone + Heat (recorded shapes): the
//! faults and corners a real Heat cannot show on demand.

use crate::support::fake_heat::{FakeCloud, PASSWORD, TOKEN, count, fixture};
use crate::support::{Project, failure, stderr, stdout};
use assert_cmd::Command;
use serde_json::{Value as Json, json};
use std::process::Output;
use std::sync::atomic::Ordering;

const RANDOM_TEMPLATE: &str = include_str!("../fixtures/heat/random.yaml");

/// Every variable OpenStack tools read, so the caller's shell cannot leak in.
pub const OS_VARS: &[&str] = &[
    "OS_CLOUD",
    "OS_AUTH_URL",
    "OS_AUTH_TYPE",
    "OS_USERNAME",
    "OS_USER_ID",
    "OS_PASSWORD",
    "OS_PROJECT_NAME",
    "OS_PROJECT_ID",
    "OS_USER_DOMAIN_NAME",
    "OS_PROJECT_DOMAIN_NAME",
    "OS_DOMAIN_NAME",
    "OS_REGION_NAME",
    "OS_INTERFACE",
    "OS_CACERT",
    "OS_TOKEN",
    "OS_INSECURE",
    "OS_CLIENT_CONFIG_FILE",
    "OS_CLIENT_SECURE_FILE",
    "OS_APPLICATION_CREDENTIAL_ID",
    "OS_APPLICATION_CREDENTIAL_SECRET",
    "OS_APPLICATION_CREDENTIAL_NAME",
    "HEAT_URL",
];

/// A project whose Heat template is the recorded `random.yaml`, talking to `fake` with
/// an openrc's variables.
fn project() -> Project {
    let p = Project::new();
    p.write("heat/heat-setup.yaml", RANDOM_TEMPLATE);
    p
}

/// `kube-openstack ARGS` in `p` with an openrc's variables for `fake` (and no others).
pub(crate) fn cmd(p: &Project, fake: &FakeCloud, args: &[&str]) -> Command {
    let mut c = p.cmd();
    for v in OS_VARS {
        c.env_remove(v);
    }
    c.env("HOME", p.dir.path())
        .env("OS_AUTH_URL", format!("{}/v3", fake.url))
        .env("OS_USERNAME", "admin")
        .env("OS_PASSWORD", PASSWORD)
        .env("OS_PROJECT_NAME", "admin")
        .env("OS_USER_DOMAIN_NAME", "Default")
        .env("OS_PROJECT_DOMAIN_NAME", "Default")
        .env("OS_REGION_NAME", "RegionOne")
        .args(args);
    c
}

/// Runs `c` to its end, which must be exit `code` (0: success, 2: an error); what it
/// printed is shown when it is not.
fn run(c: &mut Command, code: i32) -> Output {
    let out = c.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// `params VERB ARGS... --source heat --stack STACK`.
fn heat_params<'a>(args: &[&'a str], stack: &'a str) -> Vec<&'a str> {
    let mut all = vec!["params"];
    all.extend_from_slice(args);
    all.extend(["--source", "heat", "--stack", stack]);
    all
}

/// Asserts that `text` holds every one of `parts` (and shows it when not).
fn contains_all(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "no `{part}` in:\n{text}");
    }
}

#[test]
fn stack_outputs_keep_their_types_are_masked_and_work_offline_afterwards() {
    let fake = FakeCloud::start();
    fake.stack("probe-random", &["13-stack-show.json"], None);
    let p = project();
    let out = run(
        &mut cmd(&p, &fake, &heat_params(&["show"], "probe-random")),
        0,
    );
    let table = stdout(&out);
    assert!(
        !table.contains("csiqswhhcniv") && !table.contains("3B396ABB"),
        "random values leak: {table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("prefix_param") && l.contains("heat") && l.contains("probe")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("full_name") && l.contains("***")),
        "{table}"
    );
    // Follows the 302 by name to {name}/{id}: outputs come from the id form.
    assert!(
        fake.requests()
            .contains(&"GET stacks/probe-random/a8d8e0e2-2c0e-4d9e-9f1e-1cb0a1aa94e7".to_string()),
        "{:?}",
        fake.requests()
    );

    // Offline from now on: Keystone's URL points nowhere, the saved outputs are used.
    let mut offline = cmd(
        &p,
        &fake,
        &heat_params(&["show", "--show-secrets", "-o", "json"], "probe-random"),
    );
    offline.env("OS_AUTH_URL", "http://127.0.0.1:9/v3");
    let out = run(&mut offline, 0);
    let v: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["secret_len"]["value"], json!(12));
    assert_eq!(v["as_list"]["value"], json!(["csiqswhhcniv", "3B396ABB"]));
    assert_eq!(
        v["as_map"]["value"],
        json!({"a": "csiqswhhcniv", "length": 12})
    );
    assert_eq!(v["full_name"]["secret"], json!(true));
    assert_eq!(v["prefix_param"]["secret"], json!(false));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(p.path(".kube-openstack/heat-outputs.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_stack_in_progress_is_an_error_and_wait_polls_until_complete() {
    let fake = FakeCloud::start();
    let in_progress = fixture("41-stack-show-create-in-progress.json", &fake.url);
    let mut complete = in_progress.clone();
    complete["stack"]["stack_status"] = json!("CREATE_COMPLETE");
    complete["stack"]["stack_status_reason"] = json!("Stack CREATE completed successfully");
    complete["stack"]["outputs"][2]["output_value"] = json!("after-value");
    fake.stack_body(
        "probe-slow",
        vec![
            in_progress.clone(),
            in_progress.clone(),
            in_progress.clone(),
            in_progress,
            complete,
        ],
    );
    let p = project();
    let out = run(
        &mut cmd(&p, &fake, &heat_params(&["show"], "probe-slow")),
        2,
    );
    let err = stderr(&out);
    contains_all(
        &err,
        &[
            "stack `probe-slow` is CREATE_IN_PROGRESS: Stack CREATE started",
            "hint: pass `--wait`",
        ],
    );

    // Without --wait nothing was saved.
    run(
        &mut cmd(
            &p,
            &fake,
            &heat_params(&["get", "after_value"], "probe-slow"),
        ),
        2,
    );
    let out = run(
        &mut cmd(
            &p,
            &fake,
            &heat_params(&["refresh", "--wait"], "probe-slow"),
        ),
        0,
    );
    let err = stderr(&out);
    assert!(
        err.contains("Waiting stack `probe-slow`: CREATE_IN_PROGRESS")
            && err.contains("Waiting stack `probe-slow`: CREATE_COMPLETE"),
        "{err}"
    );
    assert!(
        stdout(&out).contains("+ after_value: after-value"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_failed_stack_reports_its_reason_and_the_failed_resources() {
    let fake = FakeCloud::start();
    fake.stack(
        "probe-failed",
        &["52-stack-show-create-failed.json"],
        Some("55-stack-resources-create-failed.json"),
    );
    let out = run(
        &mut cmd(&project(), &fake, &heat_params(&["show"], "probe-failed")),
        2,
    );
    let err = stderr(&out);
    contains_all(
        &err,
        &[
            "is CREATE_FAILED: Resource CREATE failed: StackValidationFailed",
            "resource broken (OS::Heat::RandomString): StackValidationFailed",
        ],
    );
    assert!(
        !err.contains("resource fine"),
        "only failed resources are listed: {err}"
    );
}

#[test]
fn every_output_with_an_error_is_listed_at_once() {
    let fake = FakeCloud::start();
    let mut body = fixture("61-stack-show-delete-in-progress.json", &fake.url);
    body["stack"]["stack_status"] = json!("UPDATE_COMPLETE");
    fake.stack_body("probe-slow", vec![body]);
    let p = project();
    let out = run(
        &mut cmd(&p, &fake, &heat_params(&["show"], "probe-slow")),
        2,
    );
    let err = stderr(&out);
    for key in ["early_value", "slow_value", "after_value"] {
        assert!(
            err.contains(&format!("`{key}`: The specified reference")),
            "{key}: {err}"
        );
    }
    assert!(
        !p.path(".kube-openstack/heat-outputs.json").exists(),
        "nothing half-read is saved"
    );
}

#[test]
fn a_wrong_password_is_refused_once_with_a_hint_and_never_printed() {
    let fake = FakeCloud::start();
    let p = project();
    let mut c = cmd(&p, &fake, &heat_params(&["show"], "probe-random"));
    c.env("OS_PASSWORD", "not-the-password-xyz");
    let out = run(&mut c, 2);
    let err = stderr(&out);
    assert!(
        err.contains("Keystone refused the credentials") && err.contains("requires authentication"),
        "{err}"
    );
    contains_all(&err, &["hint: check the user, password"]);
    assert!(!err.contains("not-the-password-xyz"), "{err}");
    assert_eq!(
        count(&fake.requests(), "POST /v3/auth/tokens"),
        1,
        "a 401 is not retried"
    );
}

#[test]
fn an_unknown_stack_says_so_with_a_hint() {
    let fake = FakeCloud::start();
    let out = run(
        &mut cmd(&project(), &fake, &heat_params(&["show"], "no-such-stack")),
        2,
    );
    let err = stderr(&out);
    contains_all(
        &err,
        &[
            "stack `no-such-stack` does not exist",
            "hint: create it with `kube-openstack stack create --wait`",
        ],
    );
}

#[test]
fn heat_missing_from_the_catalog_lists_the_catalog_and_heat_url_overrides_it() {
    let fake = FakeCloud::start();
    fake.stack("probe-random", &["13-stack-show.json"], None);
    fake.state.without_heat.store(true, Ordering::SeqCst);
    let p = project();
    let out = run(
        &mut cmd(&p, &fake, &["stack", "show", "--stack", "probe-random"]),
        2,
    );
    let err = stderr(&out);
    contains_all(
        &err,
        &[
            "no `orchestration` endpoint (interface public, region RegionOne)",
            "identity (public RegionOne)",
            "`--heat-url`",
        ],
    );
    let heat_url = format!("{}/v1/%(tenant_id)s", fake.url);
    let out = run(
        &mut cmd(
            &p,
            &fake,
            &[
                "stack",
                "show",
                "--stack",
                "probe-random",
                "--heat-url",
                &heat_url,
            ],
        ),
        0,
    );
    assert!(
        stdout(&out).contains("status:  CREATE_COMPLETE"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn unavailable_services_are_retried_with_backoff() {
    let fake = FakeCloud::start();
    fake.stack("probe-random", &["13-stack-show.json"], None);
    fake.state.unavailable.store(2, Ordering::SeqCst);
    let out = run(
        &mut cmd(
            &project(),
            &fake,
            &heat_params(&["get", "prefix_param"], "probe-random"),
        ),
        0,
    );
    assert_eq!(stdout(&out), "probe\n");
    assert_eq!(
        count(&fake.requests(), "POST /v3/auth/tokens"),
        3,
        "{:?}",
        fake.requests()
    );
}

#[test]
fn stack_create_posts_the_template_and_parameters_and_waits() {
    let fake = FakeCloud::start();
    let p = project();
    let out = run(
        &mut cmd(
            &p,
            &fake,
            &[
                "stack",
                "create",
                "--stack",
                "kube-os",
                "-P",
                "prefix=demo",
                "--wait",
            ],
        ),
        0,
    );
    let err = stderr(&out);
    assert!(
        err.contains("Creating stack `kube-os`")
            && err.contains("Created stack `kube-os`: CREATE_COMPLETE"),
        "{err}"
    );
    let created = fake.state.created.lock().unwrap()[0].clone();
    assert_eq!(created["template"], json!(RANDOM_TEMPLATE));
    assert_eq!(created["parameters"]["prefix"], json!("demo"));

    let out = run(
        &mut cmd(&p, &fake, &["stack", "create", "--stack", "kube-os"]),
        2,
    );
    let err = stderr(&out);
    assert!(
        err.contains("stack `kube-os` already exists")
            && err.contains("hint: use another `--stack` name"),
        "{err}"
    );
}

#[test]
fn stack_create_failure_lists_the_failed_resources() {
    let fake = FakeCloud::start();
    fake.to_be_created(
        "probe-failed",
        &["52-stack-show-create-failed.json"],
        Some("55-stack-resources-create-failed.json"),
    );
    let out = run(
        &mut cmd(
            &project(),
            &fake,
            &["stack", "create", "--stack", "probe-failed", "--wait"],
        ),
        2,
    );
    let err = stderr(&out);
    contains_all(
        &err,
        &[
            "cannot create stack `probe-failed`",
            "resource broken (OS::Heat::RandomString): StackValidationFailed",
        ],
    );
}

#[test]
fn a_template_heat_rejects_shows_heats_message() {
    let fake = FakeCloud::start();
    let p = project();
    p.write("heat/heat-setup.yaml", "heat_template_version: 2018-08-31\nresources:\n  r:\n    type: OS::Heat::RandomString\n    properties:\n      length: -5\n");
    let out = run(
        &mut cmd(&p, &fake, &["stack", "create", "--stack", "bad"]),
        2,
    );
    let err = stderr(&out);
    contains_all(
        &err,
        &["400 Property error: : resources.r.properties.length: : -5 is out of range"],
    );
}

#[test]
fn stack_delete_waits_until_the_stack_is_gone() {
    let fake = FakeCloud::start();
    fake.stack("probe-random", &["13-stack-show.json"], None);
    let p = project();
    let out = run(
        &mut cmd(
            &p,
            &fake,
            &["stack", "delete", "--stack", "probe-random", "--wait"],
        ),
        0,
    );
    assert!(
        stderr(&out).contains("Deleted stack `probe-random`"),
        "{}",
        stderr(&out)
    );
    let out = run(
        &mut cmd(&p, &fake, &["stack", "show", "--stack", "probe-random"]),
        2,
    );
    assert!(
        stderr(&out).contains("stack `probe-random` does not exist"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn stack_show_masks_generated_values() {
    let fake = FakeCloud::start();
    fake.stack("probe-random", &["13-stack-show.json"], None);
    let out = run(
        &mut cmd(
            &project(),
            &fake,
            &["stack", "show", "--stack", "probe-random"],
        ),
        0,
    );
    let text = stdout(&out);
    assert!(
        text.contains("reason:  Stack CREATE completed successfully"),
        "{text}"
    );
    assert!(
        text.contains("prefix_param") && text.contains("probe"),
        "{text}"
    );
    assert!(!text.contains("csiqswhhcniv"), "{text}");

    // The same for a script, as JSON.
    let out = run(
        &mut cmd(
            &project(),
            &fake,
            &["stack", "show", "--stack", "probe-random", "-o", "json"],
        ),
        0,
    );
    let shown: Json = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(shown["name"], "probe-random");
    assert_eq!(shown["reason"], "Stack CREATE completed successfully");
    assert_eq!(shown["outputs"]["prefix_param"], "probe");
    assert!(!stdout(&out).contains("csiqswhhcniv"), "{}", stdout(&out));
}

#[test]
fn params_refresh_reports_changed_keys_with_secrets_masked() {
    let fake = FakeCloud::start();
    fake.stack("probe-random", &["13-stack-show.json"], None);
    let p = project();
    run(
        &mut cmd(&p, &fake, &heat_params(&["refresh"], "probe-random")),
        0,
    );
    let mut changed = fixture("13-stack-show.json", &fake.url);
    for o in changed["stack"]["outputs"].as_array_mut().unwrap() {
        match o["output_key"].as_str().unwrap() {
            "b_value" => o["output_value"] = json!("NEWVALUE1"),
            "prefix_param" => o["output_value"] = json!("renamed"),
            _ => {}
        }
    }
    fake.stack_body("probe-random", vec![changed]);
    let out = run(
        &mut cmd(&p, &fake, &heat_params(&["refresh"], "probe-random")),
        0,
    );
    let report = stdout(&out);
    assert!(
        report.contains("~ prefix_param: probe -> renamed"),
        "{report}"
    );
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("~ b_value: ***") && l.contains(" -> ***")),
        "{report}"
    );
    assert!(
        !report.contains("NEWVALUE1") && !report.contains("3B396ABB"),
        "{report}"
    );
    assert!(
        stderr(&out).contains("2 of 8 outputs changed"),
        "{}",
        stderr(&out)
    );

    // The same changes for a script (`-o yaml`), as masked.
    let mut again = fixture("13-stack-show.json", &fake.url);
    for o in again["stack"]["outputs"].as_array_mut().unwrap() {
        if o["output_key"] == "prefix_param" {
            o["output_value"] = json!("again");
        }
    }
    fake.stack_body("probe-random", vec![again]);
    let out = run(
        &mut cmd(
            &p,
            &fake,
            &heat_params(&["refresh", "-o", "yaml"], "probe-random"),
        ),
        0,
    );
    let refreshed: Json = serde_yaml::from_str(&stdout(&out)).unwrap();
    assert_eq!(refreshed["stack"], "probe-random");
    let changes = refreshed["changes"].as_array().unwrap();
    let prefix = changes.iter().find(|c| c["key"] == "prefix_param").unwrap();
    assert_eq!(
        (&prefix["change"], &prefix["old"], &prefix["new"]),
        (&json!("changed"), &json!("renamed"), &json!("again"))
    );
    let b = changes.iter().find(|c| c["key"] == "b_value").unwrap();
    assert!(b["new"].as_str().unwrap().starts_with("***"), "{refreshed}");
    assert!(!stdout(&out).contains("NEWVALUE1"), "{}", stdout(&out));
}

#[test]
fn clouds_yaml_and_secure_yaml_are_read_from_the_standard_path() {
    let fake = FakeCloud::start();
    fake.stack("probe-random", &["13-stack-show.json"], None);
    let p = project();
    p.write(
        ".config/openstack/clouds.yaml",
        &format!("clouds:\n  lab:\n    auth:\n      auth_url: {}\n      username: admin\n      project_name: admin\n    region_name: RegionOne\n", fake.url),
    );
    p.write(
        ".config/openstack/secure.yaml",
        &format!("clouds:\n  lab:\n    auth:\n      password: {PASSWORD}\n"),
    );
    let mut c = cmd(
        &p,
        &fake,
        &[
            "stack",
            "show",
            "--stack",
            "probe-random",
            "--os-cloud",
            "lab",
        ],
    );
    for v in OS_VARS {
        c.env_remove(v);
    }
    run(&mut c, 0);
}

/// An HTTPS server with a self-signed certificate (`openssl s_server`), for TLS failures.
struct TlsServer {
    child: std::process::Child,
    port: u16,
    cert: std::path::PathBuf,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tls_server(p: &Project) -> TlsServer {
    // A private CA and a server certificate it signed (webpki refuses a CA certificate
    // used as a server's own).
    let program = crate::support::require_program("openssl", "openssl");
    let openssl = |args: &[&str]| {
        std::process::Command::new(&program)
            .current_dir(p.dir.path())
            .args(args)
            .output()
    };
    let ca = [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=kube-openstack test CA",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
    ];
    let made = openssl(&ca).unwrap();
    assert!(made.status.success(), "{}", failure(&made));
    let server = [
        "req",
        "-x509",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca-key.pem",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-keyout",
        "key.pem",
        "-out",
        "cert.pem",
    ];
    let made = openssl(&server).unwrap();
    assert!(made.status.success(), "{}", failure(&made));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(&program)
        .args(["s_server", "-quiet", "-accept", &port.to_string(), "-cert"])
        .arg(p.path("cert.pem"))
        .arg("-key")
        .arg(p.path("key.pem"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    TlsServer {
        child,
        port,
        cert: p.path("ca.pem"),
    }
}

/// The error once TLS passed and the echo server hung up: which of hyper's words it gets
/// depends on whether the hang-up came before the request was written (a pooled
/// connection found closed: "not ready") or after (a loaded machine gives either).
fn hung_up(err: &str) -> bool {
    err.contains("connection closed before message completed")
        || err.contains("connection was not ready")
}

#[test]
fn an_untrusted_certificate_is_a_tls_error_with_a_hint_and_os_cacert_trusts_it() {
    let p = project();
    let server = tls_server(&p);
    let fake = FakeCloud::start();
    let url = format!("https://127.0.0.1:{}/v3", server.port);
    let mut c = cmd(&p, &fake, &["stack", "show", "--stack", "s"]);
    c.env("OS_AUTH_URL", &url);
    let out = run(&mut c, 2);
    let err = stderr(&out);
    contains_all(
        &err,
        &[
            &format!("cannot connect to `{url}/auth/tokens`"),
            "hint: if the cloud uses a private CA, pass its certificate with `--os-cacert FILE`",
        ],
    );

    // Trusting the CA gets past TLS: what fails now is that the server (an echo server
    // that hangs up) is no Keystone.
    let mut c = cmd(&p, &fake, &["stack", "show", "--stack", "s", "--os-cacert"]);
    c.arg(&server.cert).env("OS_AUTH_URL", &url);
    let err = stderr(&run(&mut c, 2));
    assert!(
        !err.contains("certificate") && !err.contains("private CA"),
        "{err}"
    );
    assert!(hung_up(&err), "the handshake passed: {err}");

    let mut c = cmd(&p, &fake, &["stack", "show", "--stack", "s", "--insecure"]);
    c.env("OS_AUTH_URL", &url);
    let err = stderr(&run(&mut c, 2));
    contains_all(&err, &["TLS certificates are not verified (`--insecure`)"]);
    assert!(!err.contains("certificate:") && hung_up(&err), "{err}");
}

#[test]
fn application_credentials_and_tokens_authenticate_too() {
    let fake = FakeCloud::start();
    fake.stack("probe-random", &["13-stack-show.json"], None);
    let p = project();
    let mut c = cmd(
        &p,
        &fake,
        &[
            "stack",
            "show",
            "--stack",
            "probe-random",
            "--os-auth-type",
            "v3applicationcredential",
        ],
    );
    c.env_remove("OS_PASSWORD")
        .env("OS_APPLICATION_CREDENTIAL_ID", "abc")
        .env("OS_APPLICATION_CREDENTIAL_SECRET", PASSWORD);
    run(&mut c, 0);
    let mut c = cmd(&p, &fake, &["stack", "show", "--stack", "probe-random"]);
    c.env_remove("OS_PASSWORD")
        .env_remove("OS_USERNAME")
        .env("OS_TOKEN", TOKEN);
    let out = run(&mut c, 0);
    assert!(!stderr(&out).contains(TOKEN));
}
