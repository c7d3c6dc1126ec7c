//! The pod network of the real-pod cluster: a pod keeps reaching its name server while
//! other pods come and go.

use crate::real_cluster::{RealCluster, pod};
use crate::support::cluster::NS;
use crate::support::failure;
use std::process::Command;
use std::time::Duration;

/// A hardware address below every address the kernel gives a veth (those are locally
/// administered: their first byte has bit 1 set).
const LOWEST: &str = "00:00:00:00:00:01";

/// The host end of the veth of the pod whose network namespace `pid` holds: the
/// interface whose index follows `eth0@if` in the pod (its /sys would be the host's, as
/// `nsenter -n` keeps the mounts), which must be a port of the pod bridge.
fn host_veth(pid: u32) -> String {
    let out = Command::new("nsenter")
        .args([
            "-t",
            &pid.to_string(),
            "-n",
            "ip",
            "-o",
            "link",
            "show",
            "eth0",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let index = text
        .split_once("eth0@if")
        .and_then(|(_, rest)| rest.split(':').next())
        .unwrap_or_else(|| panic!("no veth peer in the pod's `ip link`: {text}"));
    let veth = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .find(|e| {
            std::fs::read_to_string(e.path().join("ifindex")).is_ok_and(|i| i.trim() == index)
        })
        .unwrap_or_else(|| panic!("no host interface has index {index}"));
    assert!(
        veth.path().join("brport").exists(),
        "{:?} is not a bridge port",
        veth.file_name()
    );
    veth.file_name().to_string_lossy().into_owned()
}

#[test]
fn a_pod_keeps_resolving_names_when_the_pod_with_the_lowest_hardware_address_leaves() {
    // A Linux bridge whose address was never set takes its lowest port's. Here one pod's
    // port gets the lowest address there can be, a second pod then learns the bridge's
    // (which answers for the name server), and the first pod goes: the second must go on
    // resolving, as pods on a Kubernetes node do when a neighbour pod is deleted.
    let c = RealCluster::new("bridge-address");
    let image = &c.images.busybox;
    let anchor = pod(
        "anchor",
        image,
        "Always",
        "    command: [sleep, '3600']\n",
        "",
    );
    let service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: anchor\nspec:\n  selector:\n    app: anchor\n  ports:\n  - {port: 80}\n";
    c.manifest("anchor-pod.yaml", &anchor)
        .manifest("anchor-service.yaml", service);
    let out = c.run("deploy", &["--timeout", "60s"]);
    assert!(out.status.success(), "{}\n{}", failure(&out), c.explain());
    let node = c.fake.node().expect("a real-pod cluster");
    let pid = node
        .netns_of(NS, "anchor")
        .expect("the anchor pod's network");
    let veth = host_veth(pid);
    let set = Command::new("ip")
        .args(["link", "set", "dev", &veth, "address", LOWEST])
        .status()
        .unwrap();
    assert!(set.success(), "cannot set {veth}'s address");

    let name = format!("anchor.{NS}.svc.cluster.local");
    let script = format!(
        "    command: [sh, -c]\n    args:\n    - |\n      for i in $(seq 40); do\n        if out=$(nslookup -timeout=1 -retry=1 {name} 2>&1); then echo ok; else echo lost: $out; fi\n        sleep 0.3\n      done\n"
    );
    c.manifest(
        "client-pod.yaml",
        &pod("client", image, "Never", &script, ""),
    );
    // Not waiting for the client to finish: the anchor pod goes while it runs.
    let out = c.run("deploy", &["--no-wait"]);
    assert!(out.status.success(), "{}\n{}", failure(&out), c.explain());
    c.wait_for(
        "the client's first answers",
        Duration::from_secs(60),
        || {
            let (_, log) = c.log("client", "");
            (log.lines().count() >= 5).then_some(())
        },
    );
    let url = format!("{}/api/v1/namespaces/{NS}/pods/anchor", c.fake.url());
    let deleted = Command::new("curl")
        .args(["-sf", "-o", "/dev/null", "-X", "DELETE", &url])
        .status()
        .unwrap();
    assert!(deleted.success(), "cannot delete the anchor pod");
    c.wait_for("the anchor pod to go", Duration::from_secs(60), || {
        c.object("pods", "anchor").is_none().then_some(())
    });
    let log = c.wait_for("the client to finish", Duration::from_secs(120), || {
        let (_, log) = c.log("client", "");
        (log.lines().count() >= 40).then_some(log)
    });
    let lost = log.lines().filter(|l| l.starts_with("lost")).count();
    assert_eq!(lost, 0, "{lost} of 40 lookups went unanswered:\n{log}");
}
