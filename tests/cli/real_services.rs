//! Services on the real-pod cluster: from inside a pod, a Service's name resolves (short,
//! with its namespace, fully qualified) and `NAME:PORT` reaches a ready pod it selects,
//! never one that is not ready; two pods listen on the same port without colliding.

use crate::real_cluster::{RealCluster, pod};
use crate::support::stderr;
use std::collections::HashSet;

#[test]
fn a_service_name_resolves_and_reaches_only_ready_pods_from_another_pod() {
    let c = RealCluster::new("service-reach");
    let image = &c.images.busybox;
    // Two replicas serving their own name on 8080 (same port, own addresses), and one
    // pod the Service also selects (the ReplicationController does not: it would adopt
    // it) whose readiness never passes.
    let serve = "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www";
    let web = format!(
        "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  selector:\n    app: web\n    role: server\n  template:\n    metadata:\n      labels:\n        app: web\n        role: server\n    spec:\n      terminationGracePeriodSeconds: 2\n      containers:\n      - name: httpd\n        image: {image}\n        command: [sh, -c, '{serve}']\n        ports:\n        - {{name: http, containerPort: 8080}}\n        readinessProbe:\n          httpGet: {{path: /, port: http}}\n          periodSeconds: 1\n"
    );
    let unready = pod(
        "web-unready",
        image,
        "Always",
        &format!(
            "    command: [sh, -c, '{serve}']\n    ports:\n    - {{name: http, containerPort: 8080}}\n    readinessProbe:\n      exec: {{command: ['false']}}\n      periodSeconds: 1\n"
        ),
        "",
    )
    .replace("app: web-unready", "app: web\n    role: spare");
    let service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n  - {name: http, port: 80, targetPort: http}\n";
    let client = pod(
        "client",
        image,
        "Never",
        "    command: [sh, -c]\n    args:\n    - |\n      set -e\n      nslookup web | grep -A1 'Name:' | tail -1\n      for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://web/; done\n      wget -qO- http://web.test:80/\n      wget -qO- http://web.test.svc.cluster.local/\n      echo \"env=$WEB_SERVICE_HOST:$WEB_SERVICE_PORT\"\n      echo \"empty=$(nc -w 3 nobody 80 </dev/null 2>&1)\"\n      if nslookup nothing-here >/dev/null 2>&1; then echo unknown-resolves; fi\n",
        "",
    )
    .replace(
        "metadata:\n  name: client\n",
        "metadata:\n  name: client\n  annotations:\n    kube-openstack/depends-on: ReplicationController/web\n",
    );
    let nobody = "apiVersion: v1\nkind: Service\nmetadata:\n  name: nobody\nspec:\n  selector:\n    app: nobody\n  ports:\n  - {port: 80}\n";
    c.manifest("web-rc.yaml", &web)
        .manifest("nobody-service.yaml", nobody)
        .manifest("web-unready-pod.yaml", &unready)
        .manifest("web-service.yaml", service)
        .manifest("client-pod.yaml", &client);
    // The unready pod never becomes ready: everything else must.
    let out = c.run("deploy", &["--timeout", "30s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Pod/web-unready: timed out")
            && !stderr(&out).contains("ReplicationController/web: timed out"),
        "{}\n{}",
        stderr(&out),
        c.explain()
    );
    assert!(
        stderr(&out).contains("Pod/client") && !stderr(&out).contains("Pod/client: not started"),
        "{}",
        stderr(&out)
    );
    let client_pod = c.pod("client");
    assert_eq!(
        client_pod["status"]["phase"],
        "Succeeded",
        "{client_pod}\n{:?}",
        c.log("client", "")
    );
    let (_, log) = c.log("client", "");
    let service_ip = c.object("services", "web").unwrap()["spec"]["clusterIP"]
        .as_str()
        .unwrap()
        .to_string();
    let lines: Vec<&str> = log.lines().collect();
    assert!(
        lines[0].contains(&service_ip),
        "`web` resolves to the Service's address {service_ip}: {log}"
    );
    let replicas: HashSet<String> = c
        .pods_of("web")
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(replicas.len(), 2);
    let answered: Vec<&str> = lines[1..13].to_vec();
    assert!(
        answered.iter().all(|n| replicas.contains(*n)),
        "only the ready replicas answer: {answered:?} vs {replicas:?}"
    );
    assert_eq!(
        answered.iter().collect::<HashSet<_>>().len(),
        2,
        "both replicas answer (round robin): {answered:?}"
    );
    assert_eq!(lines[13], format!("env={service_ip}:80"));
    assert!(
        lines[14].starts_with("empty=") && lines[14].contains("Connection refused"),
        "a Service without ready pods refuses connections: {}",
        lines[14]
    );
    assert!(!log.contains("unknown-resolves"), "{log}");
    let ips: HashSet<String> = c
        .pods_of("web")
        .iter()
        .map(|p| p["status"]["podIP"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ips.len(), 2, "each pod its own address, both on port 8080");
}
