//! `images` end to end: buildah building small contexts, pushing to the real Docker
//! Distribution registry stored in a real Swift (`scripts/dev-registry.sh`), checked
//! through the registry's API, in Swift itself, and in the registry's own access log.

use crate::support::images::{
    ImageProject, file_len, http, is_call, registry_and_buildah, registry_requests_since,
};
use crate::support::{failure, stderr, stdout};

fn lock_digest(p: &ImageProject, name: &str) -> String {
    let lock: serde_json::Value =
        serde_json::from_str(&p.project.read(".kube-openstack/images.lock.json")).unwrap();
    lock["images"][name]["digest"]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in the lock: {lock}"))
        .to_string()
}

fn builds(calls: &[String]) -> Vec<String> {
    let mut b: Vec<String> = calls
        .iter()
        .filter(|c| is_call(c, "bud"))
        .map(|c| c.rsplit('/').next().unwrap_or_default().to_string())
        .collect();
    b.sort();
    b
}

const OCI: &str = "application/vnd.oci.image.manifest.v1+json";

#[test]
fn images_builds_pushes_and_a_second_run_only_looks() {
    let reg = registry_and_buildah();
    let p = ImageProject::new(&reg, "e2e");
    p.busybox_context("base");
    p.derived_context("tool", "base", "echo built > /built.txt");
    p.file_context("hello", "hello\n");

    let out = p.cmd(&["images", "--jobs", "2"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert_eq!(builds(&p.builder_calls()), ["base", "hello", "tool"]);

    // The registry's API: the catalog, the tags (configured + content tag), the digests.
    let base_url = format!("http://{}", reg.address);
    // `last` starts the page right before this test's repositories.
    let (_, _, catalog) = http(
        "GET",
        &format!("{base_url}/v2/_catalog?n=100&last={}", p.prefix),
        &[],
    );
    for name in ["base", "hello", "tool"] {
        assert!(
            catalog.contains(&format!("\"{}\"", p.repository(name))),
            "{name} in {catalog}"
        );
        let (_, _, tags) = http(
            "GET",
            &format!("{base_url}/v2/{}/tags/list", p.repository(name)),
            &[],
        );
        assert!(
            tags.contains("\"latest\"") && tags.contains("\"src-"),
            "{tags}"
        );
        let (status, headers, _) = http(
            "HEAD",
            &format!("{base_url}/v2/{}/manifests/latest", p.repository(name)),
            &[("Accept", OCI)],
        );
        assert_eq!(status, 200);
        let digest = headers
            .iter()
            .find(|(k, _)| k == "docker-content-digest")
            .map(|(_, v)| v.clone())
            .unwrap();
        assert_eq!(
            digest,
            lock_digest(&p, name),
            "the lock records what the registry serves"
        );
    }

    // Swift itself holds the registry's data.
    let (_, auth, _) = http(
        "GET",
        &reg.swift_auth_url,
        &[("X-Auth-User", "test:tester"), ("X-Auth-Key", "testing")],
    );
    let get = |k: &str| {
        auth.iter()
            .find(|(h, _)| h == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let url = format!(
        "{}/{}?prefix=files/docker/registry/v2/repositories/{}/",
        get("x-storage-url"),
        reg.swift_container,
        p.prefix
    );
    let (status, _, listing) = http("GET", &url, &[("X-Auth-Token", &get("x-auth-token"))]);
    assert_eq!(status, 200, "{listing}");
    for name in ["base", "hello", "tool"] {
        assert!(
            listing.contains(&format!("{}/{name}/_manifests/tags/latest", p.prefix)),
            "{name} in Swift: {listing}"
        );
    }

    // `images list` agrees with the registry.
    let out = p.cmd(&["images", "list", "-o", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for row in rows.as_array().unwrap() {
        let name = row["name"].as_str().unwrap();
        assert_eq!(row["status"], "up to date", "{row}");
        assert_eq!(row["digest"].as_str().unwrap(), lock_digest(&p, name));
    }

    // Nothing changed: no build, no push, only manifest look-ups at the registry.
    let calls_before = p.builder_calls().len();
    let log_offset = file_len(&reg.log);
    let out = p.cmd(&["images"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert_eq!(
        p.builder_calls().len(),
        calls_before,
        "the builder was not run"
    );
    let requests = registry_requests_since(&reg.log, log_offset);
    let ours: Vec<&String> = requests.iter().filter(|r| r.contains(&p.prefix)).collect();
    assert!(!ours.is_empty(), "the registry saw the look-ups");
    assert!(
        ours.iter().all(|r| r.starts_with("HEAD ")),
        "only HEAD requests: {ours:?}"
    );
    assert!(
        stderr(&out).contains("0 built and pushed, 3 up to date"),
        "{}",
        stderr(&out)
    );

    // One file changed: only that image is built and pushed.
    p.file_context("hello", "hello again\n");
    let before = p.builder_calls().len();
    let out = p.cmd(&["images"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert_eq!(builds(&p.builder_calls()[before..]), ["hello"]);

    // The base changed: it and its dependent are rebuilt, the other image is not.
    p.project.write("docker/base/extra.txt", "x");
    let before = p.builder_calls().len();
    let out = p.cmd(&["images"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert_eq!(builds(&p.builder_calls()[before..]), ["base", "tool"]);
}

#[test]
fn render_pin_images_writes_the_pushed_digests() {
    let reg = registry_and_buildah();
    let p = ImageProject::new(&reg, "pin");
    p.file_context("web", "web\n");
    let out = p.cmd(&["images"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let digest = lock_digest(&p, "web");

    p.project.write(
        "params.yaml",
        &format!(
            "docker_registry: {}\ndocker_image_prefix: {}\nimage_tag: latest\n",
            reg.address, p.prefix
        ),
    );
    p.project.write(
        "kubernetes-in/web.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: web\n      image: {{docker_registry}}/{{docker_image_prefix}}/web:{{image_tag}}\n    - name: db\n      image: docker.io/library/mariadb:11.4\n",
    );
    let out = p
        .project
        .with_params(&["render", "--pin-images", "--stdout"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let text = stdout(&out);
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let image = doc["spec"]["containers"][0]["image"].as_str().unwrap();
    assert_eq!(image, format!("{}/{}/web@{digest}", reg.address, p.prefix));
    assert_eq!(
        doc["spec"]["containers"][1]["image"], "docker.io/library/mariadb:11.4",
        "external images stay"
    );

    // An image of this registry that was never pushed cannot be pinned: nothing is written.
    p.project.write("kubernetes-in/other.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: other\nspec:\n  containers:\n    - name: o\n      image: {{docker_registry}}/{{docker_image_prefix}}/other:{{image_tag}}\n");
    let out = p
        .project
        .with_params(&["render", "--pin-images"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!("{}/other:latest", p.prefix)),
        "{}",
        stderr(&out)
    );
    assert!(
        !p.project.path("kubernetes").exists(),
        "nothing half-written"
    );
}

#[test]
fn a_failing_run_step_names_the_image_and_the_others_are_still_pushed() {
    let reg = registry_and_buildah();
    let p = ImageProject::new(&reg, "fail");
    p.file_context("good", "fine\n");
    p.busybox_context("base");
    p.derived_context("broken", "base", "echo about to fail && exit 3");
    p.derived_context("after", "broken", "true");
    let out = p.cmd(&["images"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("2 of 4 images failed: `after`, `broken`")
            || err.contains("2 of 4 images failed: `broken`, `after`"),
        "{err}"
    );
    assert!(
        err.contains("about to fail"),
        "the log's last lines are shown: {err}"
    );
    assert!(
        err.contains(".kube-openstack/logs/images/broken.log"),
        "{err}"
    );
    assert!(err.contains("base `broken` failed"), "{err}");
    let log = p.project.read(".kube-openstack/logs/images/broken.log");
    assert!(log.contains("about to fail"));
    // The good images are in the registry and in the lock.
    for name in ["good", "base"] {
        let (status, _, _) = http(
            "HEAD",
            &format!(
                "http://{}/v2/{}/manifests/latest",
                reg.address,
                p.repository(name)
            ),
            &[("Accept", OCI)],
        );
        assert_eq!(status, 200, "{name} was pushed");
        lock_digest(&p, name);
    }
}

#[test]
fn without_a_builder_only_the_changed_images_fail_and_the_hint_says_how_to_install_one() {
    let reg = registry_and_buildah();
    let p = ImageProject::new(&reg, "nobuilder");
    p.file_context("kept", "a\n");
    p.file_context("changed", "a\n");
    assert!(p.cmd(&["images"]).output().unwrap().status.success());
    p.file_context("changed", "b\n");
    let empty = p.project.path("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let out = p.cmd(&["images"]).env("PATH", &empty).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("1 of 2 images failed: `changed`"), "{err}");
    assert!(
        err.contains("no image builder found (looked for buildah, podman, docker on PATH)"),
        "{err}"
    );
    assert!(
        err.contains("hint:") && err.contains("apt-get install buildah"),
        "{err}"
    );
    assert!(
        err.contains("kept up to date"),
        "the unchanged image is still reported: {err}"
    );
}

#[test]
fn build_then_push_as_two_steps_and_push_refuses_what_was_not_built() {
    let reg = registry_and_buildah();
    let p = ImageProject::new(&reg, "twostep");
    p.file_context("one", "1\n");
    let out = p.cmd(&["images", "build"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert!(
        !p.builder_calls().iter().any(|c| is_call(c, "push")),
        "build does not push"
    );
    assert!(!p.project.path(".kube-openstack/images.lock.json").exists());
    let out = p.cmd(&["images", "push"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert_eq!(builds(&p.builder_calls()), ["one"], "push does not build");
    lock_digest(&p, "one");

    p.file_context("one", "2\n");
    let out = p.cmd(&["images", "push"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("run `kube-openstack images build one`"),
        "{}",
        stderr(&out)
    );
}
