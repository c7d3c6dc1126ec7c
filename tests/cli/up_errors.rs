//! Bad input stops `up` with the step, the object, the reason and the command that
//! continues: a provider Swift given without its password, a registry nothing answers
//! at, a workload that never becomes ready. (A database the migrations cannot reach is
//! `up.rs`'s failing db-sync pod, whose log says so.)

use crate::fake_kube::{FakeKube, Faults};
use crate::images_tree::{copy_dir, repo_root};
use crate::support::images::registry_and_buildah;
use crate::support::{Project, stderr};
use crate::up::{NS, Up, result};

#[test]
fn a_provider_swift_without_its_password_stops_up_at_render_naming_the_parameter() {
    let p = Project::new();
    for dir in ["heat", "kubernetes-in"] {
        copy_dir(&repo_root().join(dir), &p.path(dir));
    }
    let fake = FakeKube::start(Faults::default());
    fake.write_kubeconfig(&p.path("kubeconfig"));
    let out = p
        .cmd()
        .args(["up", "--kubeconfig", "kubeconfig", "-n", NS])
        .args(["-P", "swift_auth_url=https://swift.example:8080/auth/v1.0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    for said in [
        "`up` stopped at step `render`",
        "docker-registry-secret.yaml",
        "swift_password",
        "-P swift_password=VALUE",
        "kube-openstack up --from render",
    ] {
        assert!(err.contains(said), "`{said}` in:\n{err}");
    }
    assert_eq!(result(&out, "render"), "failed");
    assert!(
        fake.log().iter().all(|e| e.method == "GET"),
        "nothing was written to the cluster"
    );
}

#[test]
fn a_registry_nothing_answers_at_stops_up_at_images_naming_the_address() {
    let reg = registry_and_buildah();
    let u = Up::new(&reg, "up-no-registry", Faults::default());
    // A tree with no in-cluster registry to forward to.
    for f in ["secret", "rc", "service"] {
        let path = u
            .images
            .project
            .path(&format!("kubernetes-in/docker-registry-{f}.yaml"));
        std::fs::remove_file(path).unwrap();
    }
    let unused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = u.up(&["--registry-url", &unused.to_string()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    for said in [
        "`up` stopped at step `images`",
        &format!("nothing answers at `{unused}` and the tree has no in-cluster registry"),
        "kube-openstack up --from images",
    ] {
        assert!(err.contains(said), "`{said}` in:\n{err}");
    }
    assert_eq!(result(&out, "images"), "failed");
}

#[test]
fn a_workload_that_never_becomes_ready_stops_up_at_deploy_naming_it() {
    let reg = registry_and_buildah();
    let faults = Faults {
        never_ready: vec!["hello".into()],
        ..Faults::default()
    };
    let u = Up::new(&reg, "up-never-ready", faults);
    let out = u.up(&["--timeout", "3s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    for said in [
        "`up` stopped at step `deploy`",
        "ReplicationController/hello: timed out after 3s, still waiting: 0/2 replicas ready",
        "kube-openstack up --from deploy",
    ] {
        assert!(err.contains(said), "`{said}` in:\n{err}");
    }
    assert_eq!(result(&out, "deploy"), "failed");
}
