//! One container of a pod, as the kubelet runs it: the image (per `imagePullPolicy`,
//! `ErrImagePull` then `ImagePullBackOff` while it cannot be pulled), its configuration
//! (`CreateContainerConfigError` while a Secret or key is missing), a new podman
//! container for every run (so `previous` logs exist), probes while it runs, and the
//! restart policy with the kubelet's back-off (`CrashLoopBackOff`).

use super::env::{self, PodFacts};
use super::pod::PodCtx;
use super::podman::strings;
use super::probe::Probe;
use super::status::{State, terminated};
use super::volumes::{SERVICE_ACCOUNT_DIR, Volume};
use super::{backoff_delay, spec};
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How a run of the container ended.
enum End {
    /// It exited (or was killed for failing its liveness probe): the `terminated` record.
    Exited(Value),
    /// The pod is being deleted.
    Stopped,
}

pub async fn run(ctx: &PodCtx, i: usize, volumes: &HashMap<String, Volume>) {
    let c = ctx.pod["spec"]["containers"][i].clone();
    let name = c["name"].as_str().unwrap_or_default().to_string();
    let image = spec::normalise_image(c["image"].as_str().unwrap_or_default());
    let policy = spec::pull_policy(&c);
    let mut run_no = 0u32;
    let mut crashes = 0u32;
    loop {
        if !ensure_image(ctx, i, &image, &policy).await {
            return;
        }
        let config = {
            let store = ctx.shared.store.lock().unwrap();
            let pod_ip = ctx.state.lock().unwrap().pod_ip.clone();
            let facts = PodFacts {
                pod: &ctx.pod,
                pod_ip: &pod_ip,
                host_ip: &ctx.node.host_ip.to_string(),
            };
            env::resolve(&store, ctx.ns(), &c, &facts)
        };
        let env = match config {
            Ok(env) => env,
            Err(message) => {
                ctx.update(i, |s| {
                    s.state = State::Waiting {
                        reason: "CreateContainerConfigError".into(),
                        message: message.clone(),
                    }
                });
                ctx.node
                    .set_waiting(&ctx.key, &name, Some("CreateContainerConfigError"));
                ctx.event("Warning", "Failed", &format!("Error: {message}"));
                if ctx.sleep_or_stop(Duration::from_secs(2)).await {
                    return;
                }
                continue;
            }
        };
        let cname = format!("{}_{name}_{run_no}", ctx.sandbox);
        let log = ctx.dir.join(format!("{name}-{run_no}.log"));
        let started = Instant::now();
        let end = match start(ctx, &c, &cname, &log, &image, env, volumes).await {
            Ok(id) => {
                ctx.node.add_run(&ctx.key, &ctx.uid, &name, log.clone());
                let started_at = super::super::objects::now_rfc3339();
                ctx.update(i, |s| {
                    s.container_id = id.clone();
                    s.state = State::Running {
                        started_at: started_at.clone(),
                    };
                });
                ctx.event("Normal", "Started", &format!("Started container {name}"));
                watch(ctx, i, &c, &cname, &id, &started_at).await
            }
            Err(message) if ctx.stopping() => {
                let _ = message;
                End::Stopped
            }
            Err(message) => {
                // As containerd reports a container whose process could not be started.
                ctx.event("Warning", "Failed", &format!("Error: {message}"));
                End::Exited(terminated(128, "StartError", &message, "", ""))
            }
        };
        let record = match end {
            End::Stopped => return,
            End::Exited(record) => record,
        };
        // Keep the previous run (for `previous` logs), drop the one before.
        if run_no > 0 {
            let older = format!("{}_{name}_{}", ctx.sandbox, run_no - 1);
            let _ = ctx
                .node
                .podman
                .run(&strings(&["rm", "-f", "-t", "0", &older]))
                .await;
        }
        let code = record["exitCode"].as_i64().unwrap_or(1);
        let restart = match ctx.restart_policy() {
            "Always" => true,
            "OnFailure" => code != 0,
            _ => false,
        };
        if !restart {
            ctx.update(i, |s| {
                s.state = State::Terminated(record);
                s.ready = false;
                s.started = false;
            });
            return;
        }
        // The kubelet restarts at once after a first exit, then backs off (10 s doubling
        // to 5 min), starting over once a run lasted long enough.
        if started.elapsed() > Duration::from_secs(600) {
            crashes = 0;
        }
        let delay = backoff_delay(&ctx.node.opts, crashes);
        crashes += 1;
        let message = format!(
            "back-off {}s restarting failed container={name} pod={}_{}({})",
            delay.as_secs(),
            ctx.name(),
            ctx.ns(),
            ctx.uid
        );
        ctx.update(i, |s| {
            s.last = Some(record);
            s.ready = false;
            s.started = false;
            s.state = State::Waiting {
                reason: "CrashLoopBackOff".into(),
                message: message.clone(),
            };
        });
        if !delay.is_zero() {
            ctx.event("Warning", "BackOff", "Back-off restarting failed container");
            if ctx.sleep_or_stop(delay).await {
                return;
            }
        } else if ctx.stopping() {
            return;
        }
        run_no += 1;
        ctx.update(i, |s| s.restart_count = run_no);
    }
}

/// Pulls the image when the policy says so; `false` when the pod was deleted meanwhile.
async fn ensure_image(ctx: &PodCtx, i: usize, image: &str, policy: &str) -> bool {
    let podman = &ctx.node.podman;
    let name = ctx.state.lock().unwrap().containers[i].name.clone();
    let mut failures = 0u32;
    loop {
        let present = podman.has_image(image).await;
        if policy == "Never" && !present {
            let message =
                format!("Container image \"{image}\" is not present with pull policy of Never");
            ctx.update(i, |s| {
                s.state = State::Waiting {
                    reason: "ErrImageNeverPull".into(),
                    message: message.clone(),
                }
            });
            ctx.node
                .set_waiting(&ctx.key, &name, Some("ErrImageNeverPull"));
            ctx.event("Warning", "ErrImageNeverPull", &message);
            return !ctx.sleep_or_stop(Duration::from_secs(3600 * 24)).await;
        }
        if present && policy != "Always" {
            record_image(ctx, i, image).await;
            return true;
        }
        ctx.event("Normal", "Pulling", &format!("Pulling image \"{image}\""));
        let started = Instant::now();
        let mut args = strings(&["pull", "--quiet"]);
        if loopback_registry(image) {
            // As containerd and CRI-O do for a registry on the node's loopback: plain HTTP.
            args.push("--tls-verify=false".into());
        }
        args.push(image.to_string());
        match podman.run_for(&args, Duration::from_secs(300)).await {
            Ok(_) => {
                ctx.event(
                    "Normal",
                    "Pulled",
                    &format!(
                        "Successfully pulled image \"{image}\" in {:.3}s",
                        started.elapsed().as_secs_f64()
                    ),
                );
                record_image(ctx, i, image).await;
                return true;
            }
            Err(e) => {
                let why = e
                    .stderr
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("pull failed")
                    .trim_start_matches("Error: ")
                    .to_string();
                let message = format!("failed to pull image \"{image}\": {why}");
                ctx.update(i, |s| {
                    s.state = State::Waiting {
                        reason: "ErrImagePull".into(),
                        message: message.clone(),
                    }
                });
                ctx.node.set_waiting(&ctx.key, &name, Some("ErrImagePull"));
                ctx.event(
                    "Warning",
                    "Failed",
                    &format!("Failed to pull image \"{image}\": {why}"),
                );
                ctx.event("Warning", "Failed", "Error: ErrImagePull");
                let delay = backoff_delay(&ctx.node.opts, failures + 1);
                failures += 1;
                let shown = delay.min(Duration::from_secs(2));
                if ctx.sleep_or_stop(shown).await {
                    return false;
                }
                // The state carries the pull error through the back-off, as kubelets do
                // since 1.32; the event says only that it backs off.
                let event = format!("Back-off pulling image \"{image}\"");
                let message = format!("{event}: ErrImagePull: {why}");
                ctx.update(i, |s| {
                    s.state = State::Waiting {
                        reason: "ImagePullBackOff".into(),
                        message: message.clone(),
                    }
                });
                ctx.node
                    .set_waiting(&ctx.key, &name, Some("ImagePullBackOff"));
                ctx.event("Normal", "BackOff", &event);
                if ctx.sleep_or_stop(delay - shown).await {
                    return false;
                }
            }
        }
    }
}

fn loopback_registry(image: &str) -> bool {
    let host = image.split('/').next().unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

async fn record_image(ctx: &PodCtx, i: usize, image: &str) {
    let info = ctx.node.podman.inspect("image", image).await.ok();
    let digest = info
        .as_ref()
        .and_then(|v| v["Digest"].as_str())
        .unwrap_or_default()
        .to_string();
    let repo = image.rsplit_once(':').map_or(image, |(r, _)| r).to_string();
    ctx.update(i, |s| {
        s.image = image.to_string();
        s.image_id = if digest.is_empty() {
            String::new()
        } else {
            format!("{repo}@{digest}")
        };
    });
}

/// Creates and starts the run; the container's id, or why it did not start.
async fn start(
    ctx: &PodCtx,
    c: &Value,
    cname: &str,
    log: &std::path::Path,
    image: &str,
    env: env::Env,
    volumes: &HashMap<String, Volume>,
) -> Result<String, String> {
    let _gate = ctx.node.gate.read().await;
    if ctx.stopping() {
        return Err("the pod is being deleted".into());
    }
    let podman = &ctx.node.podman;
    let _ = podman.run(&strings(&["rm", "-f", "-t", "0", cname])).await;
    let mut args = strings(&["create", "--pod", ctx.podman_pod(), "--name", cname]);
    ctx.made.lock().unwrap().push(cname.to_string());
    args.extend(podman.label_args());
    args.extend(strings(&[
        "--label",
        &format!("io.kubernetes.pod.namespace={}", ctx.ns()),
        "--label",
        &format!("io.kubernetes.pod.name={}", ctx.name()),
        "--label",
        &format!(
            "io.kubernetes.container.name={}",
            c["name"].as_str().unwrap_or("")
        ),
    ]));
    args.extend(strings(&[
        "--log-driver",
        "k8s-file",
        "--log-opt",
        &format!("path={}", log.display()),
        "--pull",
        "never",
    ]));
    if ctx.host_network() {
        let resolv = ctx.dir.join("resolv.conf");
        std::fs::write(&resolv, super::pod::resolv_conf(ctx))
            .map_err(|e| format!("cannot write resolv.conf: {e}"))?;
        args.extend([
            "--volume".to_string(),
            format!("{}:/etc/resolv.conf:ro", resolv.display()),
        ]);
    }
    if let Some(dir) = c["workingDir"].as_str() {
        args.extend(["--workdir".to_string(), dir.to_string()]);
    }
    limits(c, &mut args)?;
    mounts(c, volumes, &mut args)?;
    // Values go through a file (mode 0600, removed once the container exists) or, for
    // values with a line break, podman's own environment: never its arguments. Written
    // last, so no early return leaves it behind.
    let mut cmd = podman.command();
    let env_file = ctx.dir.join(format!("{cname}.env"));
    let mut lines = String::new();
    let mut passed = Vec::new();
    for (k, v) in &env {
        if v.contains('\n') || v.contains('\r') {
            cmd.env(k, v);
            passed.push(k.clone());
        } else {
            lines.push_str(&format!("{k}={v}\n"));
        }
    }
    let mut env_args = vec!["--env-file".to_string(), env_file.display().to_string()];
    for k in passed {
        env_args.extend(["--env".to_string(), k]);
    }
    args.extend(env_args);
    let words = |k: &str| -> Vec<String> {
        c[k].as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .map(|s| env::expand(s, &env))
            .collect()
    };
    // `command` replaces the image's ENTRYPOINT and drops its CMD (podman clears CMD
    // when the entrypoint is given); `args` alone replace CMD and keep ENTRYPOINT.
    let (command, arguments) = (words("command"), words("args"));
    if !command.is_empty() {
        args.push("--entrypoint".into());
        args.push(serde_json::to_string(&command).expect("strings"));
    }
    args.push(image.to_string());
    args.extend(arguments);
    let _ = std::fs::remove_file(&env_file);
    write_private(&env_file, &lines).map_err(|e| format!("cannot write the env file: {e}"))?;
    let created = podman.run_with(cmd, &args, None).await;
    let _ = std::fs::remove_file(&env_file);
    let id = created.map_err(|e| e.to_string())?.trim().to_string();
    ctx.event(
        "Normal",
        "Created",
        &format!("Created container {}", c["name"].as_str().unwrap_or("")),
    );
    podman
        .run(&strings(&["start", cname]))
        .await
        .map_err(|e| e.to_string())?;
    Ok(id)
}

fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// `resources.limits` as podman's `--memory` and `--cpus` (requests only weigh in
/// scheduling, and there is one node).
fn limits(c: &Value, args: &mut Vec<String>) -> Result<(), String> {
    let Some(limits) = c.pointer("/resources/limits") else {
        return Ok(());
    };
    if let Some(m) = limits.get("memory") {
        let bytes = quantity(m).ok_or_else(|| format!("invalid memory limit {m}"))?;
        args.extend(["--memory".to_string(), format!("{}", bytes as u64)]);
    }
    if let Some(cpu) = limits.get("cpu") {
        let cpus = quantity(cpu).ok_or_else(|| format!("invalid cpu limit {cpu}"))?;
        args.extend(["--cpus".to_string(), format!("{cpus}")]);
    }
    Ok(())
}

/// A Kubernetes quantity (`256Mi`, `0.5`, `500m`, `1G`) as a number.
pub fn quantity(v: &Value) -> Option<f64> {
    if let Some(n) = v.as_f64() {
        return Some(n);
    }
    let s = v.as_str()?;
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let factor = match unit {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0f64.powi(4),
        _ => return None,
    };
    Some(n * factor)
}

fn mounts(
    c: &Value,
    volumes: &HashMap<String, Volume>,
    args: &mut Vec<String>,
) -> Result<(), String> {
    let mut has_token_mount = false;
    for m in c["volumeMounts"].as_array().into_iter().flatten() {
        let name = m["name"].as_str().unwrap_or_default();
        let path = m["mountPath"].as_str().unwrap_or_default();
        has_token_mount |= path == SERVICE_ACCOUNT_DIR;
        let v = volumes
            .get(name)
            .ok_or_else(|| format!("volume \"{name}\" not found"))?;
        let mut host = v.host.clone();
        if let Some(sub) = m["subPath"].as_str().filter(|s| !s.is_empty()) {
            if sub.split('/').any(|p| p == "..") || sub.starts_with('/') {
                return Err(format!("invalid subPath `{sub}`"));
            }
            host = host.join(sub);
            if !host.exists() {
                std::fs::create_dir_all(&host).map_err(|e| e.to_string())?;
            }
        }
        let ro = v.read_only || m["readOnly"].as_bool() == Some(true);
        args.push("--volume".into());
        args.push(format!(
            "{}:{path}{}",
            host.display(),
            if ro { ":ro" } else { "" }
        ));
    }
    if let (Some(token), false) = (volumes.get(""), has_token_mount) {
        args.push("--volume".into());
        args.push(format!("{}:{SERVICE_ACCOUNT_DIR}:ro", token.host.display()));
    }
    Ok(())
}

async fn inspect_code(ctx: &PodCtx, cname: &str) -> Option<i64> {
    let v = ctx.node.podman.inspect("container", cname).await.ok()?;
    v.pointer("/State/ExitCode")
        .and_then(Value::as_i64)
        .filter(|c| *c != 0)
}

/// Which probe is running.
struct Probing {
    probe: Probe,
    next: tokio::time::Instant,
    successes: u32,
    failures: u32,
}

impl Probing {
    fn new(p: Probe, from: tokio::time::Instant) -> Probing {
        let next = from + p.initial_delay;
        Probing {
            probe: p,
            next,
            successes: 0,
            failures: 0,
        }
    }

    /// Records one result: `Some(true)` when it passed its threshold, `Some(false)` when
    /// it failed it.
    fn record(&mut self, ok: bool) -> Option<bool> {
        self.next += self.probe.period;
        if ok {
            self.failures = 0;
            self.successes += 1;
            (self.successes >= self.probe.success_threshold).then_some(true)
        } else {
            self.successes = 0;
            self.failures += 1;
            (self.failures >= self.probe.failure_threshold).then_some(false)
        }
    }
}

/// Waits for the run to end, probing it meanwhile.
async fn watch(ctx: &PodCtx, i: usize, c: &Value, cname: &str, id: &str, started_at: &str) -> End {
    let podman = ctx.node.podman.clone();
    let wait_name = cname.to_string();
    let mut exited = Box::pin(async move { podman.run(&strings(&["wait", &wait_name])).await });
    let pod_ip = ctx.state.lock().unwrap().pod_ip.clone();
    let now = tokio::time::Instant::now();
    let parse = |k: &str| {
        c.get(k)
            .map(|p| Probe::parse(p, &ctx.pod, &pod_ip))
            .transpose()
    };
    let (mut startup, mut liveness, mut readiness) = match (
        parse("startupProbe"),
        parse("livenessProbe"),
        parse("readinessProbe"),
    ) {
        (Ok(s), Ok(l), Ok(r)) => (
            s.map(|p| Probing::new(p, now)),
            l.map(|p| Probing::new(p, now)),
            r.map(|p| Probing::new(p, now)),
        ),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            ctx.event("Warning", "Unhealthy", &format!("Probe misconfigured: {e}"));
            (None, None, None)
        }
    };
    let name = c["name"].as_str().unwrap_or_default();
    if startup.is_none() {
        ctx.update(i, |s| {
            s.started = true;
            s.ready = readiness.is_none();
        });
    }
    let mut killed_for = None;
    loop {
        // Liveness and readiness wait for the startup probe.
        let due = match &startup {
            Some(s) => Some(s.next),
            None => [&liveness, &readiness]
                .into_iter()
                .flatten()
                .map(|p| p.next)
                .min(),
        };
        let mut stop = ctx.stop.clone();
        enum Woke {
            Exited(Option<i64>),
            Deleted,
            Probe,
        }
        let woke = tokio::select! {
            r = &mut exited => Woke::Exited(r.ok().and_then(|o| o.trim().parse::<i64>().ok())),
            r = stop.wait_for(Option::is_some) => match r.is_ok() {
                true => Woke::Deleted,
                false => Woke::Probe,
            },
            _ = sleep_until(due) => Woke::Probe,
        };
        let deleted = match woke {
            Woke::Exited(code) => {
                return End::Exited(finished(ctx, cname, id, started_at, code, killed_for).await);
            }
            Woke::Deleted => true,
            Woke::Probe => false,
        };
        if deleted {
            let grace = ctx.grace().to_string();
            ctx.event("Normal", "Killing", &format!("Stopping container {name}"));
            let _ = ctx
                .node
                .podman
                .run(&strings(&["stop", "-t", &grace, cname]))
                .await;
            let _ = tokio::time::timeout(Duration::from_secs(10), &mut exited).await;
            let code = inspect_code(ctx, cname).await.unwrap_or(0);
            let reason = if code == 0 { "Completed" } else { "Error" };
            let record = terminated(code, reason, "", started_at, id);
            ctx.update(i, |s| {
                s.state = State::Terminated(record);
                s.ready = false;
            });
            return End::Stopped;
        }
        let now = tokio::time::Instant::now();
        if let Some(p) = startup.as_mut().filter(|p| p.next <= now) {
            let result = p
                .probe
                .check(&ctx.node.podman, cname, ctx.node.node_pid())
                .await;
            if let Err(e) = &result {
                ctx.event(
                    "Warning",
                    "Unhealthy",
                    &format!("Startup probe failed: {e}"),
                );
            }
            match p.record(result.is_ok()) {
                Some(true) => {
                    startup = None;
                    let t = tokio::time::Instant::now();
                    liveness = liveness.map(|l| Probing::new(l.probe, t));
                    readiness = readiness.map(|r| Probing::new(r.probe, t));
                    ctx.update(i, |s| {
                        s.started = true;
                        s.ready = readiness.is_none();
                    });
                }
                Some(false) => {
                    killed_for = Some("startup");
                    kill(ctx, name, "startup", cname).await;
                }
                None => {}
            }
            continue;
        }
        if let Some(p) = readiness.as_mut().filter(|p| p.next <= now) {
            let result = p
                .probe
                .check(&ctx.node.podman, cname, ctx.node.node_pid())
                .await;
            if let Err(e) = &result {
                ctx.event(
                    "Warning",
                    "Unhealthy",
                    &format!("Readiness probe failed: {e}"),
                );
            }
            if let Some(ready) = p.record(result.is_ok()) {
                ctx.update(i, |s| s.ready = ready);
            }
        }
        if let Some(p) = liveness.as_mut().filter(|p| p.next <= now)
            && killed_for.is_none()
        {
            let result = p
                .probe
                .check(&ctx.node.podman, cname, ctx.node.node_pid())
                .await;
            if let Err(e) = &result {
                ctx.event(
                    "Warning",
                    "Unhealthy",
                    &format!("Liveness probe failed: {e}"),
                );
            }
            if p.record(result.is_ok()) == Some(false) {
                killed_for = Some("liveness");
                kill(ctx, name, "liveness", cname).await;
            }
        }
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn kill(ctx: &PodCtx, name: &str, probe: &str, cname: &str) {
    ctx.event(
        "Normal",
        "Killing",
        &format!("Container {name} failed {probe} probe, will be restarted"),
    );
    let grace = ctx.pod["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap_or(30)
        .to_string();
    let _ = ctx
        .node
        .podman
        .run(&strings(&["stop", "-t", &grace, cname]))
        .await;
}

/// The `terminated` record of a run that ended.
async fn finished(
    ctx: &PodCtx,
    cname: &str,
    id: &str,
    started_at: &str,
    code: Option<i64>,
    killed_for: Option<&str>,
) -> Value {
    let info = ctx.node.podman.inspect("container", cname).await.ok();
    let state = info.as_ref().map(|v| &v["State"]);
    let code = code
        .or_else(|| state.and_then(|s| s["ExitCode"].as_i64()))
        .unwrap_or(-1);
    let oom = state.and_then(|s| s["OOMKilled"].as_bool()) == Some(true);
    let error = state
        .and_then(|s| s["Error"].as_str())
        .unwrap_or_default()
        .to_string();
    let reason = if oom {
        "OOMKilled"
    } else if code == 0 {
        "Completed"
    } else {
        "Error"
    };
    let message = match killed_for {
        Some(probe) => format!("killed after failing its {probe} probe"),
        None => error,
    };
    terminated(code, reason, &message, started_at, id)
}
