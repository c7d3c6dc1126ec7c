use super::*;
use crate::report::Hint as _;
use std::collections::HashMap;

fn env_of(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn resolve_with(
    opts: &ConnectOptions,
    env: &HashMap<String, String>,
) -> Result<Resolved, OpenStackError> {
    resolve(opts, &|k| env.get(k).cloned(), true)
}

const CLOUDS: &str = "clouds:
  lab:
    auth:
      auth_url: https://keystone.lab:5000
      username: alice
      project_name: ops
      user_domain_name: Users
    region_name: RegionTwo
    interface: internal
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: http://k:5000/v3/
      application_credential_id: abc123
      application_credential_secret: s3cr3t
";

#[test]
fn an_openrc_gives_password_credentials_scoped_to_the_project() {
    let env = env_of(&[
        ("OS_AUTH_URL", "http://127.0.0.1:5000/v3"),
        ("OS_USERNAME", "admin"),
        ("OS_PASSWORD", "pw"),
        ("OS_PROJECT_NAME", "admin"),
        ("OS_USER_DOMAIN_NAME", "Default"),
        ("OS_PROJECT_DOMAIN_NAME", "Default"),
        ("OS_REGION_NAME", "RegionOne"),
    ]);
    let r = resolve_with(&ConnectOptions::default(), &env).unwrap();
    assert_eq!(r.cloud.auth_url.as_str(), "http://127.0.0.1:5000/v3");
    assert_eq!(
        r.cloud.scope,
        Some(Scope::ProjectName {
            name: "admin".into(),
            domain: "Default".into()
        })
    );
    assert_eq!(r.cloud.region.as_deref(), Some("RegionOne"));
    let AuthMethod::Password { user, password } = r.cloud.auth else {
        panic!("password auth expected")
    };
    assert_eq!(
        user,
        UserRef::Name {
            name: "admin".into(),
            domain: "Default".into()
        }
    );
    assert_eq!(password.expose(), "pw");
    assert!(r.secret_given);
}

#[test]
fn clouds_yaml_is_merged_with_secure_yaml_and_flags_win() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("clouds.yaml"), CLOUDS).unwrap();
    std::fs::write(
        t.path().join("secure.yaml"),
        "clouds:\n  lab:\n    auth:\n      password: from-secure\n",
    )
    .unwrap();
    let opts = ConnectOptions {
        cloud: Some("lab".into()),
        region_name: Some("RegionThree".into()),
        search_dirs: vec![t.path().to_path_buf()],
        ..ConnectOptions::default()
    };
    let r = resolve_with(&opts, &HashMap::new()).unwrap();
    assert_eq!(r.cloud.auth_url.as_str(), "https://keystone.lab:5000/v3");
    assert_eq!(r.cloud.region.as_deref(), Some("RegionThree"));
    assert_eq!(r.cloud.interface, Interface::Internal);
    let AuthMethod::Password { user, password } = r.cloud.auth else {
        panic!()
    };
    assert_eq!(
        user,
        UserRef::Name {
            name: "alice".into(),
            domain: "Users".into()
        }
    );
    assert_eq!(password.expose(), "from-secure");
}

#[test]
fn os_cloud_picks_an_application_credential() {
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("my-clouds.yaml");
    std::fs::write(&file, CLOUDS).unwrap();
    let env = env_of(&[
        ("OS_CLOUD", "appcred"),
        ("OS_CLIENT_CONFIG_FILE", file.to_str().unwrap()),
    ]);
    let r = resolve_with(&ConnectOptions::default(), &env).unwrap();
    assert_eq!(r.cloud.auth_url.as_str(), "http://k:5000/v3");
    let AuthMethod::ApplicationCredential { id, secret, .. } = r.cloud.auth else {
        panic!()
    };
    assert_eq!(id.as_deref(), Some("abc123"));
    assert_eq!(secret.expose(), "s3cr3t");
}

#[test]
fn an_unknown_cloud_names_the_file_and_the_clouds_it_has() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("clouds.yaml"), CLOUDS).unwrap();
    let opts = ConnectOptions {
        cloud: Some("nope".into()),
        search_dirs: vec![t.path().into()],
        ..ConnectOptions::default()
    };
    let err = resolve_with(&opts, &HashMap::new()).unwrap_err();
    assert!(err.to_string().contains("clouds.yaml"), "{err}");
    assert_eq!(err.hint().unwrap(), "clouds defined: lab, appcred");
}

#[test]
fn a_token_needs_no_user() {
    let env = env_of(&[
        ("OS_AUTH_URL", "http://k:5000"),
        ("OS_TOKEN", "tok"),
        ("OS_PROJECT_ID", "p1"),
    ]);
    let r = resolve_with(&ConnectOptions::default(), &env).unwrap();
    assert!(matches!(r.cloud.auth, AuthMethod::Token(ref t) if t.expose() == "tok"));
    assert_eq!(r.cloud.scope, Some(Scope::ProjectId("p1".into())));
}

#[test]
fn no_auth_url_is_an_error_with_a_hint() {
    let err = resolve_with(&ConnectOptions::default(), &HashMap::new()).unwrap_err();
    assert!(matches!(err, OpenStackError::NoAuthUrl(_)));
    assert!(err.hint().unwrap().contains("OS_AUTH_URL"));
}

#[test]
fn secrets_never_show_in_debug_output() {
    let env = env_of(&[
        ("OS_AUTH_URL", "http://k/v3"),
        ("OS_USERNAME", "u"),
        ("OS_PASSWORD", "hunter2-secret"),
    ]);
    let r = resolve_with(&ConnectOptions::default(), &env).unwrap();
    assert!(!format!("{r:?}").contains("hunter2"));
}
