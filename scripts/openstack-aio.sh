#!/usr/bin/env bash
# A throwaway OpenStack "all in one" for the tests: Keystone + Heat (+ RabbitMQ) from
# Debian's packages, on 127.0.0.1 with sqlite, state in one folder.
#
#   scripts/openstack-aio.sh start   # installs what is missing, starts, waits until ready
#   scripts/openstack-aio.sh stop    # stops only the daemons this script started
#   scripts/openstack-aio.sh env     # prints the KO_OS_* variables the tests read
#   scripts/openstack-aio.sh running # exit status 0 when it is running
#
# Ports: Keystone 5000, Heat 8004, RabbitMQ 5672 (epmd 4369). State:
# ${KO_AIO_DIR:-/tmp/kube-openstack-aio}. Needs root (apt-get) on first use.
# The passwords below guard a loopback-only test cloud; they are not secrets.
set -euo pipefail

dir=${KO_AIO_DIR:-/tmp/kube-openstack-aio}
admin_password=${KO_AIO_ADMIN_PASSWORD:-aio-admin-pw}
heat_password=aio-heat-pw
domain_admin_password=aio-heat-domain-pw
keystone_url=http://127.0.0.1:5000/v3
say() { printf 'openstack-aio: %s\n' "$*" >&2; }

packages=(keystone heat-api heat-engine rabbitmq-server python3-openstackclient python3-heatclient
    uwsgi-core uwsgi-plugin-python3)

install_missing() {
    local missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return
    say "installing ${missing[*]}"
    # Keep postinst scripts from starting daemons: we start our own, on loopback.
    local rc_made=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && rc_made=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
        --no-install-recommends "${missing[@]}" >"$dir/apt.log" 2>&1 || { tail -20 "$dir/apt.log" >&2; exit 1; }
    [ -n "$rc_made" ] && rm -f /usr/sbin/policy-rc.d
    return 0
}

# Starts "$@" in its own process group, output to log/$name.out, pid in $name.pid.
spawn() {
    local name=$1; shift
    setsid "$@" >"$dir/log/$name.out" 2>&1 </dev/null &
    echo $! >"$dir/$name.pid"
}

wait_for() { # what, seconds, command...
    local what=$1 secs=$2; shift 2
    for _ in $(seq "$secs"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 1
    done
    say "$what not ready after ${secs}s; logs in $dir/log"
    tail -20 "$dir"/log/*.out >&2 || true
    exit 1
}

wal() { python3 -c 'import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL")' "$1"; }

write_configs() {
    mkdir -p "$dir"/{log,keystone,heat,fernet,cred,rabbit/mnesia,rabbit/log}
    chmod 700 "$dir"/fernet "$dir"/cred
    cat >"$dir/keystone/keystone.conf" <<EOF
[DEFAULT]
log_file = $dir/log/keystone.log
[database]
connection = sqlite:///$dir/keystone/keystone.db
[fernet_tokens]
key_repository = $dir/fernet
[credential]
key_repository = $dir/cred
[token]
provider = fernet
EOF
    cat >"$dir/heat/heat.conf" <<EOF
[DEFAULT]
log_file = $dir/log/heat.log
transport_url = rabbit://guest:guest@127.0.0.1:5672/
num_engine_workers = 1
rpc_response_timeout = 30
deferred_auth_method = trusts
stack_user_domain_name = heat
stack_domain_admin = heat_domain_admin
stack_domain_admin_password = $domain_admin_password
heat_metadata_server_url = http://127.0.0.1:8000
heat_waitcondition_server_url = http://127.0.0.1:8000/v1/waitcondition
[database]
connection = sqlite:///$dir/heat/heat.db
[heat_api]
bind_host = 127.0.0.1
bind_port = 8004
workers = 1
[keystone_authtoken]
www_authenticate_uri = $keystone_url
auth_url = $keystone_url
auth_type = password
username = heat
password = $heat_password
project_name = service
user_domain_name = Default
project_domain_name = Default
[trustee]
auth_type = password
auth_url = $keystone_url
username = heat
password = $heat_password
user_domain_name = Default
[clients_keystone]
auth_uri = http://127.0.0.1:5000
[ec2authtoken]
auth_uri = $keystone_url
EOF
    echo '[].' >"$dir/rabbit/enabled_plugins"
    : >"$dir/rabbit/rabbitmq.conf"
}

rabbit_env() {
    rabbit_vars=(RABBITMQ_MNESIA_BASE="$dir/rabbit/mnesia" RABBITMQ_LOG_BASE="$dir/rabbit/log" \
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=5672 RABBITMQ_NODENAME=rabbit@localhost \
        RABBITMQ_CONFIG_FILE="$dir/rabbit/rabbitmq" RABBITMQ_ENABLED_PLUGINS_FILE="$dir/rabbit/enabled_plugins" \
        RABBITMQ_PID_FILE="$dir/rabbit/pid" RABBITMQ_CONF_ENV_FILE="$dir/rabbit/rabbitmq-env.conf" \
        RABBITMQ_ADVANCED_CONFIG_FILE="$dir/rabbit/advanced.config" \
        ERL_EPMD_ADDRESS=127.0.0.1 HOME="$dir/rabbit")
    env "${rabbit_vars[@]}" "$@"
}

admin() {
    env OS_AUTH_URL=$keystone_url OS_USERNAME=admin OS_PASSWORD="$admin_password" OS_PROJECT_NAME=admin \
        OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3 \
        OS_REGION_NAME=RegionOne openstack "$@"
}

keystone_ready() { python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:5000/v3", timeout=2)'; }
heat_ready() { admin stack list; }

first_setup() {
    say "first start: databases, keystone bootstrap"
    local kcfg=(--config-file "$dir/keystone/keystone.conf")
    keystone-manage "${kcfg[@]}" db_sync
    keystone-manage "${kcfg[@]}" fernet_setup --keystone-user root --keystone-group root
    keystone-manage "${kcfg[@]}" credential_setup --keystone-user root --keystone-group root
    keystone-manage "${kcfg[@]}" bootstrap --bootstrap-password "$admin_password" \
        --bootstrap-region-id RegionOne --bootstrap-public-url "http://127.0.0.1:5000/v3" \
        --bootstrap-internal-url "http://127.0.0.1:5000/v3"
    wal "$dir/keystone/keystone.db"
    heat-manage --config-file "$dir/heat/heat.conf" db_sync >"$dir/log/heat-db-sync.out" 2>&1
    wal "$dir/heat/heat.db"
}

register_heat() {
    say "registering heat in keystone"
    admin project create --domain Default service >/dev/null
    admin user create --domain Default --password "$heat_password" heat >/dev/null
    admin role add --project service --user heat admin
    admin service create --name heat orchestration >/dev/null
    for iface in public internal admin; do
        admin endpoint create --region RegionOne orchestration "$iface" 'http://127.0.0.1:8004/v1/%(tenant_id)s' >/dev/null
    done
    admin domain create heat >/dev/null
    admin user create --domain heat --password "$domain_admin_password" heat_domain_admin >/dev/null
    admin role add --domain heat --user-domain heat --user heat_domain_admin admin
    admin role create heat_stack_owner >/dev/null
    admin role create heat_stack_user >/dev/null
    admin role add --project admin --user admin heat_stack_owner
    touch "$dir/registered"
}

running() {
    [ -f "$dir/keystone.pid" ] && kill -0 "$(cat "$dir/keystone.pid")" 2>/dev/null
}

start() {
    if running; then
        say "already running (state in $dir)"
        env_vars
        return
    fi
    mkdir -p "$dir/log"
    install_missing
    local fresh=
    [ -f "$dir/keystone/keystone.db" ] || fresh=1
    write_configs
    [ -n "$fresh" ] && first_setup

    spawn epmd epmd -address 127.0.0.1 -port 4369
    rabbit_env true
    spawn rabbit env "${rabbit_vars[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server
    spawn keystone env OS_KEYSTONE_CONFIG_FILES="$dir/keystone/keystone.conf" \
        uwsgi --plugin python3 --http-socket 127.0.0.1:5000 --wsgi-file /usr/bin/keystone-wsgi-public \
        --processes 3 --master --die-on-term --add-header "Connection: close" --buffer-size 65535
    wait_for keystone 60 keystone_ready
    [ -f "$dir/registered" ] || register_heat
    wait_for rabbitmq 90 rabbit_env /usr/lib/rabbitmq/bin/rabbitmqctl -q status
    spawn heat-engine heat-engine --config-file "$dir/heat/heat.conf"
    spawn heat-api heat-api --config-file "$dir/heat/heat.conf"
    wait_for heat 90 heat_ready
    say "ready: keystone $keystone_url, heat http://127.0.0.1:8004 (state in $dir)"
    env_vars
}

stop() {
    local name pid
    for name in heat-api heat-engine keystone rabbit epmd; do
        [ -f "$dir/$name.pid" ] || continue
        pid=$(cat "$dir/$name.pid")
        # Each daemon leads its own process group (setsid): end the group it made.
        kill -TERM -- "-$pid" 2>/dev/null || true
        for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL -- "-$pid" 2>/dev/null || true
        rm -f "$dir/$name.pid"
    done
    say "stopped"
}

env_vars() {
    cat <<EOF
export KO_OS_AUTH_URL=$keystone_url
export KO_OS_USERNAME=admin
export KO_OS_PASSWORD=$admin_password
export KO_OS_PROJECT_NAME=admin
export KO_OS_USER_DOMAIN_NAME=Default
export KO_OS_PROJECT_DOMAIN_NAME=Default
export KO_OS_REGION_NAME=RegionOne
EOF
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    running) running ;;
    env) env_vars ;;
    *) echo "usage: $0 start|stop|running|env" >&2; exit 2 ;;
esac
