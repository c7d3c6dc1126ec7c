#!/usr/bin/env bash
# A Swift all-in-one and a Docker Distribution registry stored in it, on loopback, from
# Debian packages: for local development and for the tests.
#
#   scripts/dev-registry.sh start   # installs what is missing, starts, waits until ready
#   scripts/dev-registry.sh stop    # stops only the processes this script started (by pid)
#   scripts/dev-registry.sh env     # prints the variables the tests read
#   scripts/dev-registry.sh running # exit status 0 when it is running
#
# Ports (override with the variables): Swift proxy KO_SWIFT_PORT=8090, account/container/
# object servers 6230-6232, memcached KO_MEMCACHED_PORT=11232, registry KO_REGISTRY_PORT=4999.
# State, logs and pids live in KO_DEV_REGISTRY_DIR (default /tmp/kube-openstack-dev-registry).
# The registry's log (one line per request) is $KO_DEV_REGISTRY_DIR/registry.log.
set -euo pipefail

dir=${KO_DEV_REGISTRY_DIR:-/tmp/kube-openstack-dev-registry}
swift_port=${KO_SWIFT_PORT:-8090}
account_port=${KO_SWIFT_ACCOUNT_PORT:-6230}
container_port=${KO_SWIFT_CONTAINER_PORT:-6231}
object_port=${KO_SWIFT_OBJECT_PORT:-6232}
memcached_port=${KO_MEMCACHED_PORT:-11232}
registry_port=${KO_REGISTRY_PORT:-4999}
swift_container=docker-registry
say() { printf 'dev-registry: %s\n' "$*" >&2; }

install_missing() {
    local missing=() pkg
    for pkg in swift swift-proxy swift-account swift-container swift-object memcached \
        python3-swiftclient docker-registry curl; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return
    say "installing ${missing[*]}"
    local sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y \
        --no-install-recommends "${missing[@]}" >&2 \
        || { $sudo apt-get -o DPkg::Lock::Timeout=900 update >&2 &&
             $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y \
                 --no-install-recommends "${missing[@]}" >&2; }
}

server_conf() { # NAME PORT EXTRA_PIPELINE
    cat > "$dir/etc/$1-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $2
workers = 0
swift_dir = $dir/etc
devices = $dir/srv
mount_check = false
log_facility = LOG_LOCAL2
[pipeline:main]
pipeline = healthcheck recon $1-server
[app:$1-server]
use = egg:swift#$1
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:recon]
use = egg:swift#recon
recon_cache_path = $dir/cache
[$1-replicator]
[$1-auditor]
EOF
    [ "$1" = container ] && printf '[container-updater]\n[container-sync]\n' >> "$dir/etc/$1-server.conf"
    [ "$1" = object ] && printf '[object-updater]\n' >> "$dir/etc/$1-server.conf"
    return 0
}

configure() {
    rm -rf "$dir/etc" "$dir/srv"
    mkdir -p "$dir/etc" "$dir/srv/d1" "$dir/cache" "$dir/run"
    # Swift keeps metadata in user xattrs: the folder's file system must take them.
    if ! python3 -c "import os,sys; os.setxattr(sys.argv[1], 'user.ko', b'1')" "$dir/srv/d1" 2>/dev/null; then
        say "error: $dir does not take user xattrs (Swift needs them); set KO_DEV_REGISTRY_DIR to a folder on ext4/xfs"
        exit 2
    fi
    cat > "$dir/etc/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $swift_port
workers = 0
swift_dir = $dir/etc
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempauth copy dlo versioned_writes proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:tempauth]
use = egg:swift#tempauth
user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$memcached_port
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:copy]
use = egg:swift#copy
[filter:dlo]
use = egg:swift#dlo
[filter:versioned_writes]
use = egg:swift#versioned_writes
EOF
    server_conf account "$account_port"
    server_conf container "$container_port"
    server_conf object "$object_port"
    local kind port
    for kind in account container object; do
        case $kind in account) port=$account_port ;; container) port=$container_port ;; object) port=$object_port ;; esac
        (cd "$dir/etc" && swift-ring-builder $kind.builder create 10 1 1 >/dev/null &&
            swift-ring-builder $kind.builder add r1z1-127.0.0.1:$port/d1 1 >/dev/null &&
            swift-ring-builder $kind.builder rebalance >/dev/null)
    done
    cat > "$dir/registry.yml" <<EOF
version: 0.1
log: {level: info, accesslog: {disabled: false}}
storage:
  swift:
    authurl: http://127.0.0.1:$swift_port/auth/v1.0
    username: test:tester
    password: testing
    container: $swift_container
    chunksize: 20971520
  cache: {blobdescriptor: inmemory}
  delete: {enabled: true}
  redirect: {disable: true}
http:
  addr: 127.0.0.1:$registry_port
  secret: $(head -c 24 /dev/urandom | base64 | tr -d '/+=')
health:
  storagedriver: {enabled: true, interval: 10s, threshold: 3}
EOF
}

launch() { # NAME COMMAND...
    local name=$1; shift
    setsid "$@" > "$dir/$name.log" 2>&1 < /dev/null &
    echo $! > "$dir/run/$name.pid"
}

wait_for() { # WHAT SECONDS COMMAND...
    local what=$1 tries=$(( $2 * 10 )); shift 2
    while ! "$@" >/dev/null 2>&1; do
        tries=$((tries - 1))
        if [ $tries -le 0 ]; then
            say "error: $what did not come up; logs in $dir"
            tail -n 20 "$dir"/*.log >&2 || true
            stop; exit 2
        fi
        sleep 0.1
    done
}

running() {
    [ -s "$dir/run/registry.pid" ] && kill -0 "$(cat "$dir/run/registry.pid")" 2>/dev/null
}

start() {
    if running; then
        say "already running (pids in $dir/run)"; return
    fi
    install_missing
    configure
    launch memcached memcached -l 127.0.0.1 -p "$memcached_port" -U 0 -u "$(id -un)"
    local kind
    for kind in account container object; do
        launch "swift-$kind" "swift-$kind-server" "$dir/etc/$kind-server.conf"
    done
    launch swift-proxy swift-proxy-server "$dir/etc/proxy-server.conf"
    local port
    for port in "$account_port" "$container_port" "$object_port"; do
        wait_for "Swift's server on :$port" 60 curl -fsS -o /dev/null "http://127.0.0.1:$port/healthcheck"
    done
    wait_for "Swift (tempauth on :$swift_port)" 60 \
        curl -fsS -o /dev/null -H 'X-Auth-User: test:tester' -H 'X-Auth-Key: testing' "http://127.0.0.1:$swift_port/auth/v1.0"
    launch registry docker-registry serve "$dir/registry.yml"
    wait_for "the registry (:$registry_port)" 30 curl -fsS -o /dev/null "http://127.0.0.1:$registry_port/v2/"
    say "Swift on 127.0.0.1:$swift_port, registry on 127.0.0.1:$registry_port (logs in $dir)"
}

stop() {
    local pidfile pid
    for pidfile in "$dir"/run/*.pid; do
        [ -e "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$pidfile"
    done
}

env_vars() {
    echo "KO_REGISTRY=127.0.0.1:$registry_port"
    echo "KO_REGISTRY_LOG=$dir/registry.log"
    echo "KO_SWIFT_AUTH_URL=http://127.0.0.1:$swift_port/auth/v1.0"
    echo "KO_SWIFT_CONTAINER=$swift_container"
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    running) running ;;
    env) env_vars ;;
    *) echo "usage: $0 start|stop|running|env" >&2; exit 2 ;;
esac
