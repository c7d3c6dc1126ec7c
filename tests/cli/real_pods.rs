//! Pods as real containers (podman), deployed with `kube-openstack` against the fake API
//! server's real-pod node: what a one-shot pod's command really did is what `deploy`,
//! `db-sync` and `status` report; images come from the real registry; `command`/`args`,
//! the environment and volumes reach the container as on a kubelet; deleting a pod stops
//! its container within the grace period.

use crate::real_cluster::{RealCluster, container_status, pod, waiting_reason};
use crate::support::cluster::ok;
use crate::support::{stderr, stdout};
use serde_json::Value;
use std::time::{Duration, Instant};

#[test]
fn a_one_shot_pod_whose_command_fails_is_reported_failed_with_its_log() {
    let c = RealCluster::new("one-shot-fails");
    let script = "    command: [sh, -c]\n    args:\n    - |\n      echo \"connecting to $DB_HOST\"\n      echo 'ERROR: table migrations does not exist' >&2\n      exit 3\n    env:\n    - name: DB_HOST\n      value: mariadb.test\n";
    c.manifest(
        "keystone-db-sync-pod.yaml",
        &pod("keystone-db-sync", &c.images.busybox, "Never", script, ""),
    );

    let out = c.run("deploy", &["--timeout", "90s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("pod failed") && err.contains("exit code 3"),
        "the failure and the real exit code: {err}"
    );
    assert!(
        err.contains("keystone-db-sync | ERROR: table migrations does not exist")
            && err.contains("keystone-db-sync | connecting to mariadb.test"),
        "the container's own log, both streams: {err}"
    );
    let live = c.pod("keystone-db-sync");
    assert_eq!(live["status"]["phase"], "Failed");
    let state = &container_status(&live)["state"]["terminated"];
    assert_eq!(
        (&state["exitCode"], &state["reason"]),
        (&Value::from(3), &Value::from("Error"))
    );
    let ran = c.containers_of("keystone-db-sync");
    assert_eq!(ran.len(), 1, "one real container ran: {ran:?}");
    assert_eq!(ran[0]["ExitCode"], 3, "podman saw the same exit code");

    let out = c.run("status", &[]);
    assert_eq!(out.status.code(), Some(1));
    let line = stdout(&out)
        .lines()
        .find(|l| l.starts_with("Pod/keystone-db-sync"))
        .unwrap()
        .to_string();
    assert!(
        line.contains("failed") && line.contains("exit code 3"),
        "{line}"
    );

    // db-sync runs it again: a new pod, a new container, the same failure and log.
    let out = c.run("db-sync", &["keystone", "--timeout", "90s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("keystone-db-sync | ERROR: table migrations does not exist"),
        "db-sync prints the log as it comes: {}",
        stdout(&out)
    );
    assert!(stderr(&out).contains("db-sync did not succeed for Pod/keystone-db-sync"));
    let again = c.pod("keystone-db-sync");
    assert_ne!(
        again["metadata"]["uid"], live["metadata"]["uid"],
        "a new pod"
    );
    let ran = c.containers_of("keystone-db-sync");
    assert!(
        ran.iter().all(|r| r["ExitCode"] == 3) && !ran.is_empty(),
        "{ran:?}"
    );
}

#[test]
fn a_pod_whose_image_is_missing_is_reported_at_the_first_failed_pull_and_backs_off() {
    let c = RealCluster::new("missing-image");
    let image = format!("{}/kube-openstack-tests/missing:1", c.images.registry);
    c.manifest(
        "glance-db-sync-pod.yaml",
        &pod(
            "glance-db-sync",
            &image,
            "OnFailure",
            "    command: [true]\n",
            "",
        ),
    );
    let start = Instant::now();
    let out = c.run("deploy", &["--timeout", "120s"]);
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cannot pull its image")
            && err.contains(&image)
            && err.contains("manifest unknown"),
        "the registry's answer, not a timeout: {err}"
    );
    assert!(
        took < Duration::from_secs(30),
        "reported at the first failed pull, not after the timeout: {took:?}"
    );
    let live = c.pod("glance-db-sync");
    let reason = waiting_reason(&live).unwrap_or_default();
    assert!(
        reason == "ErrImagePull" || reason == "ImagePullBackOff",
        "{live}"
    );
    let message = container_status(&live)["state"]["waiting"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains(&image), "{message}");
    let events = c.events(&live);
    let failed = events
        .iter()
        .find(|(t, r, m)| t == "Warning" && r == "Failed" && m.contains("Failed to pull image"))
        .unwrap_or_else(|| panic!("{events:?}"));
    assert!(failed.2.contains(&image), "{failed:?}");
    // Then the kubelet backs off, the pull error still in the state.
    let backing_off = c.wait_for("ImagePullBackOff", Duration::from_secs(20), || {
        let live = c.pod("glance-db-sync");
        (waiting_reason(&live).as_deref() == Some("ImagePullBackOff")).then_some(live)
    });
    let message = container_status(&backing_off)["state"]["waiting"]["message"].clone();
    assert!(
        message
            .as_str()
            .unwrap_or_default()
            .contains("ErrImagePull: ")
            && message
                .as_str()
                .unwrap_or_default()
                .contains("manifest unknown"),
        "{message}"
    );
    let events = c.events(&backing_off);
    assert!(
        events
            .iter()
            .any(|(_, r, m)| r == "BackOff" && m == &format!("Back-off pulling image \"{image}\"")),
        "{events:?}"
    );
    assert!(
        c.containers_of("glance-db-sync").is_empty(),
        "no container without its image"
    );
    let (code, body) = c.log("glance-db-sync", "");
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("is waiting to start"), "{body}");

    let out = c.run("status", &[]);
    let line = stdout(&out)
        .lines()
        .find(|l| l.starts_with("Pod/glance-db-sync"))
        .unwrap()
        .to_string();
    assert!(
        line.contains(" failed ") && line.contains("cannot pull its image"),
        "{line}"
    );
}

#[test]
fn command_and_args_replace_the_image_entrypoint_and_cmd_as_kubernetes_does() {
    let c = RealCluster::new("command-args");
    let image = &c.images.entrypoint;
    let cases = [
        ("defaults", "", "entrypoint from-cmd"),
        ("args-only", "    args: [one, two]\n", "entrypoint one two"),
        ("command-only", "    command: [/bin/echo, cmd]\n", "cmd"),
        (
            "both",
            "    command: [/bin/echo, cmd]\n    args: [\"$(WHO)\", \"$$(WHO)\", \"$(NOBODY)\"]\n    env:\n    - name: WHO\n      value: world\n",
            "cmd world $(WHO) $(NOBODY)",
        ),
    ];
    for (name, container, _) in &cases {
        c.manifest(
            &format!("{name}-pod.yaml"),
            &pod(name, image, "Never", container, ""),
        );
    }
    ok(&c.run("deploy", &["--timeout", "90s"]));
    for (name, _, want) in &cases {
        let (code, log) = c.log(name, "");
        assert_eq!((code, log.trim_end()), (200, *want), "pod {name}");
    }
}

#[test]
fn secrets_and_config_reach_the_container_and_never_its_arguments() {
    let c = RealCluster::new("env-volumes");
    let password = "pw-with:colon #hash $(NOT_EXPANDED) 'quote'";
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: \"{}\"\n  user: keystone\n",
        password.replace('"', "\\\"")
    );
    let config = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  LOG_LEVEL: debug\n  workers: \"4\"\n  app.conf: |\n    [DEFAULT]\n    debug = true\n";
    let out_dir = tempfile::tempdir().unwrap();
    let script = r#"    command: [sh, -c]
    args:
    - |
      test "$DB_PASSWORD" = "$(cat /etc/db/pw)" && echo env-matches-volume
      echo "pw-length=${#DB_PASSWORD}"
      echo "mode=$(stat -c %a /etc/db/pw)"
      echo "user-key-absent=$(test -e /etc/db/user && echo no || echo yes)"
      echo "workers=$WORKERS level=$CFG_LOG_LEVEL"
      echo "conf=$(grep debug /etc/app/app.conf)"
      echo "pod=$POD_NAME ns=$POD_NAMESPACE ip=$POD_IP"
      echo "ip-matches=$(hostname -i | grep -qw "$POD_IP" && echo yes)"
      echo shared > /scratch/file && echo "scratch=$(cat /scratch/file)"
      echo written > /out/from-pod
      sleep 4
    env:
    - name: DB_PASSWORD
      valueFrom:
        secretKeyRef: {name: db, key: password}
    - name: WORKERS
      valueFrom:
        configMapKeyRef: {name: settings, key: workers}
    - name: POD_NAME
      valueFrom:
        fieldRef: {fieldPath: metadata.name}
    - name: POD_NAMESPACE
      valueFrom:
        fieldRef: {fieldPath: metadata.namespace}
    - name: POD_IP
      valueFrom:
        fieldRef: {fieldPath: status.podIP}
    envFrom:
    - prefix: CFG_
      configMapRef: {name: settings}
    volumeMounts:
    - {name: db, mountPath: /etc/db}
    - {name: app, mountPath: /etc/app}
    - {name: scratch, mountPath: /scratch}
    - {name: out, mountPath: /out}
"#;
    let volumes = format!(
        "  volumes:\n  - name: db\n    secret:\n      secretName: db\n      defaultMode: 256\n      items:\n      - {{key: password, path: pw}}\n  - name: app\n    configMap: {{name: settings}}\n  - name: scratch\n    emptyDir: {{}}\n  - name: out\n    hostPath: {{path: \"{}\", type: Directory}}\n",
        out_dir.path().display()
    );
    c.manifest("db-secret.yaml", &secret)
        .manifest("settings-configmap.yaml", config)
        .manifest(
            "reader-pod.yaml",
            &pod("reader", &c.images.busybox, "Never", script, &volumes),
        );
    let deploy = std::thread::spawn({
        let cmd_dir = c.project.path("");
        move || {
            assert_cmd::Command::cargo_bin("kube-openstack")
                .unwrap()
                .current_dir(cmd_dir)
                .args([
                    "deploy",
                    "--kubeconfig",
                    "kubeconfig",
                    "-n",
                    "test",
                    "--timeout",
                    "90s",
                ])
                .output()
                .unwrap()
        }
    });
    // While the container runs: no process on the machine carries the secret in its
    // arguments, and no file the node wrote holds it outside the secret volume.
    c.wait_for("the reader to run", Duration::from_secs(60), || {
        c.object("pods", "reader")
            .filter(|p| p["status"]["phase"] == "Running")
            .map(|_| ())
    });
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&cmdline).contains("pw-with:colon"),
            "a process shows the secret in its arguments: {}",
            String::from_utf8_lossy(&cmdline)
        );
    }
    let node_dir = c.fake.node().unwrap().dir.clone();
    for f in walkdir::WalkDir::new(&node_dir).into_iter().flatten() {
        if f.file_type().is_file() && !f.path().to_string_lossy().contains("/volumes/db/") {
            let text = std::fs::read(f.path()).unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&text).contains("pw-with:colon"),
                "{} holds the secret",
                f.path().display()
            );
        }
    }
    let out = deploy.join().unwrap();
    ok(&out);
    let (code, log) = c.log("reader", "");
    assert_eq!(code, 200);
    let live = c.pod("reader");
    let ip = live["status"]["podIP"].as_str().unwrap();
    for want in [
        "env-matches-volume".to_string(),
        format!("pw-length={}", password.len()),
        "mode=400".into(),
        "user-key-absent=yes".into(),
        "workers=4 level=debug".into(),
        "conf=debug = true".into(),
        format!("pod=reader ns=test ip={ip}"),
        "ip-matches=yes".into(),
        "scratch=shared".into(),
    ] {
        assert!(
            log.lines().any(|l| l == want),
            "`{want}` in:\n{log}\nvolumes: {}",
            live["spec"]["volumes"]
        );
    }
    assert_eq!(
        std::fs::read_to_string(out_dir.path().join("from-pod")).unwrap(),
        "written\n",
        "hostPath is the host's directory"
    );
}

#[test]
fn deleting_a_pod_stops_its_container_within_the_grace_period() {
    let c = RealCluster::new("delete-stops");
    let out_dir = tempfile::tempdir().unwrap();
    let script = "    command: [sh, -c]\n    args:\n    - |\n      trap 'echo got TERM > /out/term; exit 0' TERM\n      echo serving\n      while true; do sleep 0.2; done\n    volumeMounts:\n    - {name: out, mountPath: /out}\n";
    let volumes = format!(
        "  volumes:\n  - name: out\n    hostPath: {{path: \"{}\"}}\n",
        out_dir.path().display()
    );
    c.manifest(
        "server-pod.yaml",
        &pod("server", &c.images.busybox, "Always", script, &volumes),
    );
    ok(&c.run("deploy", &["--timeout", "90s"]));
    let running = c.containers_of("server");
    assert_eq!(running.len(), 1, "{running:?}");
    assert_eq!(running[0]["State"], "running");

    let start = Instant::now();
    ok(&c.run("teardown", &["--yes", "--timeout", "60s"]));
    assert!(c.object("pods", "server").is_none());
    assert!(
        start.elapsed() < Duration::from_secs(5 + 10),
        "within the pod's 5 s grace period (and the polling)"
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.path().join("term")).unwrap_or_default(),
        "got TERM\n",
        "the container was asked to stop (SIGTERM), not killed"
    );
    assert!(
        c.containers_of("server").is_empty(),
        "its container is gone: {:?}",
        c.containers()
    );
}

#[test]
fn a_pod_spec_field_the_node_cannot_honour_is_reported_on_the_pod_never_ignored() {
    let c = RealCluster::new("unsupported-field");
    c.manifest(
        "shared-pod.yaml",
        &pod(
            "shared",
            &c.images.busybox,
            "Never",
            "    command: [\"true\"]\n    tty: true\n",
            "  shareProcessNamespace: true\n",
        ),
    );
    let out = c.run("deploy", &["--timeout", "10s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // On a loaded machine the node may not have got to the pod when the 10 s are up:
    // once it has, a deploy that waits for the pod says why it cannot start.
    c.wait_for("the node's verdict", Duration::from_secs(120), || {
        (waiting_reason(&c.pod("shared")).as_deref() == Some("CreateContainerConfigError"))
            .then_some(())
    });
    let out = c.run("deploy", &["--timeout", "5s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("CreateContainerConfigError") && err.contains("spec.shareProcessNamespace"),
        "deploy says why it waited: {err}"
    );
    let live = c.pod("shared");
    assert_eq!(
        waiting_reason(&live).as_deref(),
        Some("CreateContainerConfigError")
    );
    let message = container_status(&live)["state"]["waiting"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("spec.shareProcessNamespace")
            && message.contains("spec.containers[0].tty"),
        "every field, with its path: {message}"
    );
    let events = c.events(&live);
    assert!(
        events
            .iter()
            .any(|(t, r, m)| t == "Warning" && r == "Unsupported" && m == &message),
        "{events:?}"
    );
    assert!(
        c.containers_of("shared").is_empty(),
        "nothing runs without what the spec asks: {:?}",
        c.containers()
    );
    let out = c.run("status", &[]);
    let line = stdout(&out)
        .lines()
        .find(|l| l.starts_with("Pod/shared"))
        .unwrap_or_default()
        .to_string();
    assert!(
        line.contains(" no ") && line.contains("spec.shareProcessNamespace"),
        "{line}"
    );
}
