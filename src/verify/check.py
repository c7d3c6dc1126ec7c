"""The checks of `kube-openstack verify`, run by python3 in a pod of the openstack-client
image, inside the cluster.

Credentials come from the environment only (never from arguments): the admin's from the
OS_* variables the tree gives the openstack-client pod, each service user's from
KO_VERIFY_USERS ("USER:VARIABLE ...", VARIABLE holding the password the service's own
pods are configured with). Every check prints one JSON line on stdout:
{"service": ..., "check": ..., "ok": true|false, "detail": ...}. Objects made to test
uploads are deleted again. Exit status 1 when any check failed.
"""
import hashlib
import json
import os
import sys
import time
import uuid

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

# The services the deployment runs, by catalog type.
SERVICES = [
    ("identity", "keystone"),
    ("image", "glance"),
    ("placement", "placement"),
    ("compute", "nova"),
    ("network", "neutron"),
    ("volumev3", "cinder"),
    ("object-store", "swift"),
]
INTERFACES = ("public", "internal", "admin")
TIMEOUT = 60
# A check that fails the way a loaded service fails for a moment (a connection refused,
# reset or closed without an answer, an HTTP 502/503/504) is tried again, up to this many
# times in all, 3 s apart: one dropped connection is not a broken service.
ATTEMPTS = 3
TRANSIENT = (
    "connection aborted",
    "connection reset",
    "connection refused",
    "remote end closed connection",
    "unable to establish connection",
    "http 502",
    "http 503",
    "http 504",
)
failed = False


def emit(service, check, ok, detail=""):
    global failed
    failed = failed or not ok
    line = {"service": service, "check": check, "ok": bool(ok), "detail": str(detail)}
    print(json.dumps(line), flush=True)


def why(error):
    """An exception as one line (keystoneauth's messages carry no password)."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:300]


def env_auth(**override):
    """A password plugin from the OS_* variables (names or ids of the domains)."""
    args = {
        "auth_url": os.environ["OS_AUTH_URL"],
        "username": os.environ.get("OS_USERNAME", "admin"),
        "password": os.environ.get("OS_PASSWORD", ""),
        "project_name": os.environ.get("OS_PROJECT_NAME", "admin"),
    }
    for var, key in (
        ("OS_USER_DOMAIN_ID", "user_domain_id"),
        ("OS_USER_DOMAIN_NAME", "user_domain_name"),
        ("OS_PROJECT_DOMAIN_ID", "project_domain_id"),
        ("OS_PROJECT_DOMAIN_NAME", "project_domain_name"),
    ):
        if os.environ.get(var):
            args[key] = os.environ[var]
    if not any(k.startswith("user_domain") for k in args):
        args["user_domain_id"] = "default"
    if not any(k.startswith("project_domain") for k in args):
        args["project_domain_id"] = "default"
    args.update(override)
    return v3.Password(**args)


def request(sess, service_type, method, path, **kwargs):
    """A request to a service found in the catalog (internal interface)."""
    kwargs.setdefault("raise_exc", False)
    return sess.request(
        path,
        method,
        endpoint_filter={
            "service_type": service_type,
            "interface": "internal",
            "region_name": os.environ.get("OS_REGION_NAME"),
        },
        **kwargs,
    )


def expect(response, *codes):
    if response.status_code not in codes:
        body = " ".join(response.text.split())[:200]
        raise RuntimeError(f"HTTP {response.status_code} from {response.url}: {body}")
    return response


def transient(error):
    text = why(error).lower()
    return any(sign in text for sign in TRANSIENT)


def check(service, name, f):
    """Runs one check (again, after a transient failure); its result (or its last
    exception) is one line, saying how many attempts it took when more than one."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            detail = f() or ""
            if attempt > 1:
                detail = f"{detail} (attempt {attempt})"
            emit(service, name, True, detail)
            return True
        except Exception as e:  # noqa: BLE001 - every failure is a result to report
            if attempt < ATTEMPTS and transient(e):
                time.sleep(3)
                continue
            emit(service, name, False, why(e))
            return False


def tokens(admin):
    sess = ks_session.Session(auth=admin, timeout=TIMEOUT)
    if not check("keystone", "token as admin", lambda: sess.get_token() and "issued"):
        return None
    for entry in os.environ.get("KO_VERIFY_USERS", "").split():
        user, var = entry.split(":", 1)
        auth = env_auth(
            username=user,
            password=os.environ.get(var, ""),
            project_name="service",
        )
        user_sess = ks_session.Session(auth=auth, timeout=TIMEOUT)
        check(
            user,
            f"token as {user} with the password its pods are configured with",
            lambda s=user_sess: s.get_token() and "issued",
        )
    return sess


def catalog(sess):
    access = sess.auth.get_access(sess)
    for service_type, service in SERVICES:
        for interface in INTERFACES:
            def endpoint(service_type=service_type, interface=interface):
                url = access.service_catalog.url_for(
                    service_type=service_type,
                    interface=interface,
                    region_name=os.environ.get("OS_REGION_NAME"),
                )
                r = sess.get(url, raise_exc=False, authenticated=True)
                if r.status_code >= 500 or r.status_code in (401, 403):
                    raise RuntimeError(f"{url} answered HTTP {r.status_code}")
                return f"{url} answered HTTP {r.status_code}"

            check(service, f"{interface} endpoint", endpoint)


def nova(sess):
    def services():
        r = expect(request(sess, "compute", "GET", "/os-services"), 200)
        found = {s["binary"]: s for s in r.json().get("services", [])}
        for binary in ("nova-conductor", "nova-scheduler"):
            state = found.get(binary, {}).get("state", "not registered")
            if state != "up":
                raise RuntimeError(f"{binary} is {state}")
        return "nova-conductor and nova-scheduler are up"

    check("nova", "compute service list", services)


def lists(sess):
    def listing(service_type, path, key, **kwargs):
        def f():
            r = expect(request(sess, service_type, "GET", path, **kwargs), 200)
            return f"{len(r.json().get(key, []))} {key.replace('_', ' ')}"

        return f

    check("neutron", "network list", listing("network", "/v2.0/networks", "networks"))
    check("cinder", "volume type list", listing("volumev3", "/types", "volume_types"))
    check(
        "placement",
        "resource provider list",
        listing(
            "placement",
            "/resource_providers",
            "resource_providers",
            headers={"OpenStack-API-Version": "placement 1.0"},
        ),
    )


def payload():
    data = os.urandom(256 * 1024)
    return data, hashlib.sha256(data).hexdigest()


def swift(sess):
    def round_trip():
        data, digest = payload()
        container = f"kube-openstack-verify-{uuid.uuid4().hex[:8]}"
        obj = f"{container}/check"
        expect(request(sess, "object-store", "PUT", f"/{container}"), 201, 202)
        try:
            expect(request(sess, "object-store", "PUT", f"/{obj}", data=data), 201)
            back = expect(request(sess, "object-store", "GET", f"/{obj}"), 200).content
            if hashlib.sha256(back).hexdigest() != digest:
                raise RuntimeError(f"downloaded {len(back)} bytes, not the {len(data)} uploaded")
            return f"{len(data)} bytes up and down through the proxy, the same"
        finally:
            request(sess, "object-store", "DELETE", f"/{obj}")
            request(sess, "object-store", "DELETE", f"/{container}")

    check("swift", "object upload and download", round_trip)


def glance(sess):
    def round_trip():
        data, digest = payload()
        meta = {
            "name": f"kube-openstack-verify-{uuid.uuid4().hex[:8]}",
            "disk_format": "raw",
            "container_format": "bare",
        }
        image = expect(request(sess, "image", "POST", "/v2/images", json=meta), 201).json()
        try:
            expect(
                request(
                    sess,
                    "image",
                    "PUT",
                    f"/v2/images/{image['id']}/file",
                    data=data,
                    headers={"Content-Type": "application/octet-stream"},
                ),
                204,
            )
            back = expect(request(sess, "image", "GET", f"/v2/images/{image['id']}/file"), 200)
            if hashlib.sha256(back.content).hexdigest() != digest:
                raise RuntimeError(
                    f"downloaded {len(back.content)} bytes, not the {len(data)} uploaded"
                )
            return f"{len(data)} bytes up and down, the same"
        finally:
            request(sess, "image", "DELETE", f"/v2/images/{image['id']}")

    check("glance", "image upload and download", round_trip)


def main():
    sess = tokens(env_auth())
    if sess is not None:
        catalog(sess)
        nova(sess)
        lists(sess)
        swift(sess)
        glance(sess)
    sys.exit(1 if failed else 0)


main()
