//! The tests' fake Kubernetes API server as a program, for the benchmark and for trying
//! `kube-openstack deploy` by hand:
//!
//! ```sh
//! cargo run --example fake-kube-apiserver -- --kubeconfig /tmp/fake.kubeconfig --latency-ms 20
//! ```
//!
//! Faults can be changed while it runs: `curl -X PUT --data '{...}' URL/fake/faults`;
//! `URL/fake/stats`, `URL/fake/log` and `URL/fake/objects` show what happened.
//! `--forward 'registry-0:5000=127.0.0.1:4999'` makes port-forwards to that pod's port
//! reach a real server (`*` for any pod); pods are created with `kube-openstack deploy`
//! or `kubectl`, and reach `Running` through the fake's controllers.
//!
//! `--real-pods NAME` gives the cluster a node that runs every pod as real containers with
//! podman (root; `apt-get install podman runc catatonit`), named after NAME; Ctrl-C
//! removes everything it started (a later start with the same NAME removes what a killed
//! one left). `--backoff-ms N` shortens the kubelet's restart back-off (10 s).

#[path = "../tests/support/fake_kube/mod.rs"]
mod fake_kube;

use std::net::SocketAddr;

fn main() {
    let mut faults = fake_kube::Faults::default();
    let mut addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut kubeconfig = None;
    let mut forwards = Vec::new();
    let mut real: Option<fake_kube::node::NodeOptions> = None;
    let mut backoff = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        let ms = |v: String| {
            std::time::Duration::from_millis(
                v.parse().unwrap_or_else(|_| usage("expected milliseconds")),
            )
        };
        let rate = |v: String| {
            v.parse::<f64>()
                .unwrap_or_else(|_| usage("expected a share such as 0.1"))
        };
        match flag.as_str() {
            "--listen" => {
                addr = value()
                    .parse()
                    .unwrap_or_else(|_| usage("expected HOST:PORT"))
            }
            "--kubeconfig" => kubeconfig = Some(value()),
            "--latency-ms" => faults.latency = ms(value()),
            "--ready-delay-ms" => faults.ready_delay = ms(value()),
            "--pod-run-ms" => faults.pod_run_time = ms(value()),
            "--error-rate" => faults.error_rate = rate(value()),
            "--throttle-rate" => faults.throttle_rate = rate(value()),
            "--drop-before-rate" => faults.drop_before_rate = rate(value()),
            "--drop-after-rate" => faults.drop_after_rate = rate(value()),
            "--stall-after-rate" => faults.stall_after_rate = rate(value()),
            "--fail-pod" => faults.fail_pods.push(value()),
            "--real-pods" => real = Some(fake_kube::node::NodeOptions::new(&value())),
            "--backoff-ms" => backoff = Some(ms(value())),
            "--forward" => forwards.push(
                parse_forward(&value()).unwrap_or_else(|| usage("expected POD:PORT=HOST:PORT")),
            ),
            "--seed" => {
                faults.seed = value()
                    .parse()
                    .unwrap_or_else(|_| usage("expected a number"))
            }
            other => usage(&format!("unknown flag `{other}`")),
        }
    }
    if let Some(mut opts) = real {
        if let Some(b) = backoff {
            opts.backoff = b;
            opts.backoff_max = b * 30;
        }
        return serve_real(addr, faults, opts, kubeconfig);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let (addr, shared, server) = fake_kube::serve(addr, faults).await;
        for (pod, port, to) in forwards {
            fake_kube::portforward::forward(&shared, &pod, port, to);
        }
        let url = format!("http://{addr}");
        if let Some(path) = kubeconfig {
            std::fs::write(&path, fake_kube::kubeconfig(&url)).expect("write the kubeconfig");
        }
        println!("{url}");
        server.await;
    });
}

/// The real-pod cluster until Ctrl-C, then everything its node started is removed.
fn serve_real(
    addr: SocketAddr,
    faults: fake_kube::Faults,
    opts: fake_kube::node::NodeOptions,
    kubeconfig: Option<String>,
) {
    let fake = fake_kube::FakeKube::start_real_on(addr, faults, opts).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2)
    });
    if let Some(path) = kubeconfig {
        fake.write_kubeconfig(std::path::Path::new(&path));
    }
    println!("{}", fake.url());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    drop(fake);
}

/// `POD:PORT=HOST:PORT`: port-forwards to `PORT` of `POD` (`*`: any pod) reach `HOST:PORT`.
fn parse_forward(v: &str) -> Option<(String, u16, SocketAddr)> {
    let (pod_port, to) = v.split_once('=')?;
    let (pod, port) = pod_port.rsplit_once(':')?;
    Some((pod.to_string(), port.parse().ok()?, to.parse().ok()?))
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "error: {problem}\nusage: fake-kube-apiserver [--listen HOST:PORT] [--kubeconfig FILE] [--latency-ms N] [--ready-delay-ms N] [--pod-run-ms N] [--error-rate R] [--throttle-rate R] [--drop-before-rate R] [--drop-after-rate R] [--stall-after-rate R] [--fail-pod NAME]... [--forward POD:PORT=HOST:PORT]... [--seed N] [--real-pods NAME [--backoff-ms N]]"
    );
    std::process::exit(2)
}
