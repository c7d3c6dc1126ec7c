//! What the real-pod node starts is named after its test and removed when the test ends,
//! also when it fails: its containers, its podman pods (the node's own among them), its
//! network, the name server's and the Services' addresses on the loopback, its files.
//! What a killed run could not remove, the next run of the same test does.

use crate::fake_kube::node::podman::{INSTANCE_LABEL, TEST_LABEL};
use crate::real_cluster::{RealCluster, pod};
use crate::support::cluster::ok;
use std::path::PathBuf;
use std::process::Command;

/// What a node had started, as seen while it ran.
struct Started {
    instance: String,
    network: String,
    addresses: Vec<String>,
    dir: PathBuf,
    containers: usize,
    pods: usize,
    on_loopback: bool,
}

/// `podman ARGS` (with `-q`), one id or name per line.
fn podman_ids(args: &[&str]) -> Vec<String> {
    let out = Command::new("podman").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "podman {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The loopback's IPv4 addresses.
fn loopback_addresses() -> String {
    let out = Command::new("ip")
        .args(["-4", "addr", "show", "dev", "lo"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_test_that_panics_leaves_nothing_its_node_started() {
    const TEST: &str = "cleanup-on-panic";
    let (tx, rx) = std::sync::mpsc::channel();
    let run = std::thread::spawn(move || {
        let c = RealCluster::new(TEST);
        let server = pod(
            "server",
            &c.images.busybox,
            "Always",
            "    command: [sh, -c, 'mkdir -p /www && exec httpd -f -p 8080 -h /www']\n    ports:\n    - {containerPort: 8080}\n",
            "",
        );
        let service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: server\nspec:\n  selector:\n    app: server\n  ports:\n  - {port: 80, targetPort: 8080}\n";
        c.manifest("server-pod.yaml", &server)
            .manifest("server-service.yaml", service);
        ok(&c.run("deploy", &["--timeout", "60s"]));
        let node = c.fake.node().expect("a real-pod node");
        let service_ip = c.object("services", "server").unwrap()["spec"]["clusterIP"]
            .as_str()
            .unwrap()
            .to_string();
        let label = format!("label={INSTANCE_LABEL}={}", node.instance);
        let addresses = vec![node.net.dns.to_string(), service_ip];
        let loopback = loopback_addresses();
        tx.send(Started {
            instance: node.instance.clone(),
            network: node.net.name.clone(),
            on_loopback: addresses
                .iter()
                .all(|a| loopback.contains(&format!("inet {a}/32"))),
            addresses,
            dir: node.dir.clone(),
            containers: podman_ids(&["ps", "-a", "-q", "--filter", &label]).len(),
            pods: podman_ids(&["pod", "ps", "-q", "--filter", &label]).len(),
        })
        .unwrap();
        panic!("this test fails on purpose, with its pod running");
    })
    .join();
    assert!(run.is_err(), "the test thread panicked");
    let started = rx.recv().expect("the node started and deployed");
    assert!(
        started.containers >= 3 && started.pods >= 2,
        "the node's pod and the server's, their infra and server containers, while it ran"
    );
    assert!(
        started.on_loopback,
        "the name server's and the Service's addresses were on the loopback while it ran"
    );

    let label = format!("label={INSTANCE_LABEL}={}", started.instance);
    let test_label = format!("label={TEST_LABEL}={TEST}");
    for filter in [&label, &test_label] {
        let left = podman_ids(&["ps", "-a", "-q", "--filter", filter]);
        assert!(left.is_empty(), "containers left ({filter}): {left:?}");
        let left = podman_ids(&["pod", "ps", "-q", "--filter", filter]);
        assert!(left.is_empty(), "podman pods left ({filter}): {left:?}");
    }
    let networks = podman_ids(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(
        !networks.contains(&started.network),
        "network `{}` left: {networks:?}",
        started.network
    );
    let loopback = loopback_addresses();
    for address in &started.addresses {
        assert!(
            !loopback.contains(&format!("inet {address}/32")),
            "address {address} left on the loopback: {loopback}"
        );
    }
    assert!(
        !started.dir.exists(),
        "the node's directory is gone: {}",
        started.dir.display()
    );
}

#[test]
fn a_new_run_removes_what_a_killed_run_of_the_same_test_left() {
    use crate::fake_kube::node::network::HostState;
    use crate::fake_kube::node::podman::{Podman, run_blocking};
    const TEST: &str = "cleanup-after-kill";
    let image = crate::real_cluster::images().busybox.clone();
    // What a run killed with its pod running leaves, made by hand: its id is that of a
    // process that has ended.
    let mut ended = Command::new("true").spawn().unwrap();
    ended.wait().unwrap();
    let instance = format!("{TEST}.{}.0", ended.id());
    let dir = std::env::temp_dir()
        .join("kube-openstack-fake-node")
        .join(&instance);
    std::fs::create_dir_all(&dir).unwrap();
    let labels = Podman::new(&dir, TEST, &instance).unwrap().label_args();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let podman = |args: &[&str]| {
        run_blocking(&dir, args).unwrap_or_else(|e| panic!("podman {args:?}: {e}"));
    };
    let network = format!("ko-{instance}");
    podman(&[&["network", "create"], &labels[..], &[&network]].concat());
    let pod_name = format!("{instance}_node");
    podman(
        &[
            &["pod", "create", "--network", &network, "--name", &pod_name],
            &labels[..],
        ]
        .concat(),
    );
    podman(
        &[
            &["run", "-d", "--pod", &pod_name, "--tls-verify=false"],
            &labels[..],
            &[&image, "sleep", "600"],
        ]
        .concat(),
    );
    let address = "127.77.0.1";
    let added = Command::new("ip")
        .args(["addr", "add", &format!("{address}/32"), "dev", "lo"])
        .status()
        .unwrap();
    assert!(added.success());
    let state = HostState {
        network: network.clone(),
        addresses: vec![address.parse().unwrap()],
    };
    std::fs::write(
        dir.join("host-state.json"),
        serde_json::to_vec(&state).unwrap(),
    )
    .unwrap();
    let label = format!("label={INSTANCE_LABEL}={instance}");
    assert_eq!(
        podman_ids(&["ps", "-q", "--filter", &label, "--filter", "status=running"]).len(),
        2,
        "the killed run's container and its pod's infra container run"
    );

    let c = RealCluster::new(TEST);
    assert!(
        podman_ids(&["ps", "-a", "-q", "--filter", &label]).is_empty(),
        "the killed run's containers are gone"
    );
    assert!(podman_ids(&["pod", "ps", "-q", "--filter", &label]).is_empty());
    let networks = podman_ids(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!networks.contains(&network), "{networks:?}");
    assert!(
        !loopback_addresses().contains(&format!("inet {address}/32")),
        "the address it recorded is gone"
    );
    assert!(!dir.exists());
    assert!(
        c.fake.node().is_some_and(|n| n.instance != instance),
        "the new run has a node of its own"
    );
}
