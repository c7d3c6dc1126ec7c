//! A pod's `status` from what its containers are doing, as the kubelet computes it: the
//! phase (`getPhase`), the four conditions, addresses, and one `containerStatuses` entry
//! per container with `state`, `lastState`, `ready`, `started`, `restartCount`.

use super::super::objects::now_rfc3339;
use serde_json::{Value, json};

#[derive(Clone, Debug)]
pub enum State {
    Waiting { reason: String, message: String },
    Running { started_at: String },
    Terminated(Value),
}

#[derive(Clone, Debug)]
pub struct Container {
    pub name: String,
    pub image: String,
    pub image_id: String,
    pub container_id: String,
    pub state: State,
    pub last: Option<Value>,
    pub restart_count: u32,
    pub ready: bool,
    pub started: bool,
}

impl Container {
    pub fn new(name: &str, image: &str) -> Container {
        Container {
            name: name.to_string(),
            image: image.to_string(),
            image_id: String::new(),
            container_id: String::new(),
            state: State::Waiting {
                reason: "ContainerCreating".into(),
                message: String::new(),
            },
            last: None,
            restart_count: 0,
            ready: false,
            started: false,
        }
    }

    fn to_json(&self) -> Value {
        let state = match &self.state {
            State::Waiting { reason, message } if message.is_empty() => {
                json!({"waiting": {"reason": reason}})
            }
            State::Waiting { reason, message } => {
                json!({"waiting": {"reason": reason, "message": message}})
            }
            State::Running { started_at } => json!({"running": {"startedAt": started_at}}),
            State::Terminated(t) => json!({"terminated": t}),
        };
        let mut v = json!({"name": self.name, "image": self.image, "imageID": self.image_id,
            "state": state, "lastState": {}, "ready": self.ready, "started": self.started,
            "restartCount": self.restart_count});
        if let Some(last) = &self.last {
            v["lastState"] = json!({"terminated": last});
        }
        if !self.container_id.is_empty() {
            v["containerID"] = json!(format!("podman://{}", self.container_id));
        }
        v
    }
}

/// Everything of a pod's status the node knows.
pub struct PodState {
    pub containers: Vec<Container>,
    pub pod_ip: String,
    pub host_ip: String,
    pub start_time: String,
    /// Why the pod cannot start at all (unsupported fields, a volume that cannot mount).
    pub blocked: Option<(String, String)>,
    /// Set once, when the pod's containers were all created at least once.
    pub transitions: std::collections::HashMap<String, (bool, String)>,
}

impl PodState {
    pub fn new(containers: Vec<Container>, host_ip: &str) -> PodState {
        PodState {
            containers,
            pod_ip: String::new(),
            host_ip: host_ip.to_string(),
            start_time: now_rfc3339(),
            blocked: None,
            transitions: Default::default(),
        }
    }

    /// The kubelet's `getPhase`.
    pub fn phase(&self, restart_policy: &str) -> &'static str {
        let (mut running, mut stopped, mut succeeded, mut waiting) = (0, 0, 0, 0);
        for c in &self.containers {
            match &c.state {
                State::Running { .. } => running += 1,
                State::Terminated(t) => {
                    stopped += 1;
                    if t["exitCode"] == 0 {
                        succeeded += 1;
                    }
                }
                State::Waiting { .. } if c.last.is_some() => stopped += 1,
                State::Waiting { .. } => waiting += 1,
            }
        }
        if waiting > 0 {
            "Pending"
        } else if running > 0 {
            "Running"
        } else if stopped > 0 {
            match restart_policy {
                "Always" => "Running",
                "OnFailure" if stopped == succeeded => "Succeeded",
                "OnFailure" => "Running",
                _ if stopped == succeeded => "Succeeded",
                _ => "Failed",
            }
        } else {
            "Pending"
        }
    }

    fn condition(&mut self, kind: &str, ok: bool, reason: Option<&str>) -> Value {
        let now = now_rfc3339();
        let entry = self
            .transitions
            .entry(kind.to_string())
            .or_insert((ok, now.clone()));
        if entry.0 != ok {
            *entry = (ok, now);
        }
        let mut c = json!({"type": kind, "status": if ok { "True" } else { "False" },
            "lastProbeTime": null, "lastTransitionTime": entry.1});
        if let (false, Some(reason)) = (ok, reason) {
            c["reason"] = json!(reason);
        }
        c
    }

    pub fn status(&mut self, restart_policy: &str) -> Value {
        let phase = self.phase(restart_policy);
        let done = matches!(phase, "Succeeded" | "Failed");
        let all_ready = self.containers.iter().all(|c| c.ready);
        let reason = if done {
            "PodCompleted"
        } else {
            "ContainersNotReady"
        };
        let mut conditions = vec![
            self.condition("PodScheduled", true, None),
            self.condition("Initialized", true, None),
            self.condition("ContainersReady", all_ready && !done, Some(reason)),
            self.condition("Ready", all_ready && !done, Some(reason)),
        ];
        if let Some((reason, message)) = self.blocked.clone() {
            for c in &mut conditions[2..] {
                c["reason"] = json!(reason);
                c["message"] = json!(message);
            }
        } else if !all_ready && !done {
            let names: Vec<&str> = self
                .containers
                .iter()
                .filter(|c| !c.ready)
                .map(|c| c.name.as_str())
                .collect();
            let message = format!("containers with unready status: [{}]", names.join(" "));
            for c in &mut conditions[2..] {
                c["message"] = json!(message);
            }
        }
        let mut status = json!({"phase": phase, "conditions": conditions,
            "hostIP": self.host_ip, "hostIPs": [{"ip": self.host_ip}],
            "startTime": self.start_time,
            "containerStatuses": self.containers.iter().map(Container::to_json).collect::<Vec<_>>()});
        if !self.pod_ip.is_empty() {
            status["podIP"] = json!(self.pod_ip);
            status["podIPs"] = json!([{"ip": self.pod_ip}]);
        }
        status
    }
}

/// `lastState.terminated` / `state.terminated` of a finished run.
pub fn terminated(code: i64, reason: &str, message: &str, started: &str, id: &str) -> Value {
    let mut t = json!({"exitCode": code, "reason": reason, "startedAt": started,
        "finishedAt": now_rfc3339(), "containerID": format!("podman://{id}")});
    if !message.is_empty() {
        t["message"] = json!(message);
    }
    t
}
