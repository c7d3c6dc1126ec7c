#!/usr/bin/env bash
# Makes the Debian base image the docker/ contexts start from, without pulling anything:
# debootstrap a minimal bookworm, trim it the way Debian's official slim images are
# trimmed, then import it with buildah as docker.io/library/debian:bookworm-slim in
# local storage (so `FROM debian:bookworm-slim` resolves to it).
#
#   scripts/debian-base.sh            # installs debootstrap/buildah when missing
#
# Storage: the same as `kube-openstack images` uses with the same environment. buildah's
# own configuration decides (CONTAINERS_STORAGE_CONF, storage.conf; with no driver set
# there: overlay where the kernel mounts it, else vfs), and STORAGE_DRIVER overrides it;
# the driver used is printed.
#
# The root file system is kept as a tarball in KO_CACHE_DIR (default
# .kube-openstack/cache), so a second run only imports it (~6 s instead of ~30 s).
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${KO_CACHE_DIR:-$PWD/.kube-openstack/cache}
# Bump when the recipe below changes: the cached tarball and the image are then remade.
recipe=2
tarball=$cache/debian-bookworm-minbase-r$recipe.tar
tag=docker.io/library/debian:bookworm-slim
label=io.kube-openstack.debian-base
say() { printf 'debian-base: %s\n' "$*" >&2; }

missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v buildah >/dev/null || missing+=(buildah)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y \
        --no-install-recommends "${missing[@]}" >&2
fi

# The storage rule of `kube-openstack images` (src/images/storage.rs): STORAGE_DRIVER, else
# the storage.conf's driver, else buildah's choice when it is overlay, else vfs by name.
buildah=(buildah)
info() { "${buildah[@]}" info --format '{{.store.GraphDriverName}}' 2>/dev/null; }
conf=${CONTAINERS_STORAGE_CONF:-}
[ -n "$conf" ] || for c in /etc/containers/storage.conf /usr/share/containers/storage.conf; do
    [ -f "$c" ] && { conf=$c; break; }
done
configured=$(sed -n 's/^[[:space:]]*driver[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "${conf:-/dev/null}" 2>/dev/null | head -n 1)
if [ -n "${STORAGE_DRIVER:-}" ]; then
    buildah+=(--storage-driver "$STORAGE_DRIVER")
elif [ -z "$configured" ] && [ "$(info)" != overlay ]; then
    buildah+=(--storage-driver vfs)
fi
driver=$(info) || { "${buildah[@]}" info >/dev/null; exit 2; }
say "storage driver: $driver"

if [ "$("${buildah[@]}" inspect --type image --format "{{index .OCIv1.Config.Labels \"$label\"}}" "$tag" 2>/dev/null)" = "$recipe" ]; then
    say "$tag is already in local storage"
    exit 0
fi
mkdir -p "$cache"
if [ ! -s "$tarball" ]; then
    rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
    trap 'rm -rf "$rootfs"' EXIT
    say "debootstrap --variant=minbase bookworm (about 30 s)"
    debootstrap --variant=minbase bookworm "$rootfs" >"$cache/debootstrap.log" 2>&1 \
        || { tail -n 30 "$cache/debootstrap.log" >&2; exit 2; }
    # As Debian's slim images: no documentation, manuals or translations (path-exclude
    # for every later install too), no downloaded packages or package lists kept.
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    # Images are built and thrown away as a whole: dpkg need not sync every file.
    echo force-unsafe-io >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
    cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    cat >"$rootfs/etc/apt/apt.conf.d/docker-no-recommends" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb \
        "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
    find "$rootfs/usr/share/doc" ! -type d ! -name copyright -delete
    find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    find "$cache" -maxdepth 1 -name "debian-bookworm-minbase*.tar" ! -path "$tarball" -delete
fi
ctx=$(mktemp -d)
trap 'rm -rf "$ctx" ${rootfs:+"$rootfs"}' EXIT
ln "$tarball" "$ctx/rootfs.tar" 2>/dev/null || cp "$tarball" "$ctx/rootfs.tar"
printf 'FROM scratch\nADD rootfs.tar /\nLABEL %s=%s\nCMD ["/bin/bash"]\n' "$label" "$recipe" > "$ctx/Dockerfile"
say "importing as $tag"
"${buildah[@]}" bud --isolation chroot -t "$tag" "$ctx" >"$cache/import.log" 2>&1 \
    || { tail -n 30 "$cache/import.log" >&2; exit 2; }
