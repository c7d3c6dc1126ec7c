#!/usr/bin/env bash
# Makes the Debian base image the docker/ contexts start from, without pulling anything:
# debootstrap a minimal bookworm, then import it with buildah as
# docker.io/library/debian:bookworm-slim in local storage (so `FROM debian:bookworm-slim`
# resolves to it). Uses the storage buildah is configured for (CONTAINERS_STORAGE_CONF).
#
#   scripts/debian-base.sh            # installs debootstrap/buildah when missing
#
# The root file system is kept as a tarball in KO_CACHE_DIR (default
# .kube-openstack/cache), so a second run only imports it (~6 s instead of ~30 s).
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${KO_CACHE_DIR:-$PWD/.kube-openstack/cache}
tarball=$cache/debian-bookworm-minbase.tar
tag=docker.io/library/debian:bookworm-slim
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

if buildah --storage-driver vfs inspect --type image "$tag" >/dev/null 2>&1; then
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
    # An image does not need the package lists or the downloaded packages.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
fi
ctx=$(mktemp -d)
trap 'rm -rf "$ctx" ${rootfs:+"$rootfs"}' EXIT
ln "$tarball" "$ctx/rootfs.tar" 2>/dev/null || cp "$tarball" "$ctx/rootfs.tar"
printf 'FROM scratch\nADD rootfs.tar /\nCMD ["/bin/bash"]\n' > "$ctx/Dockerfile"
say "importing as $tag"
buildah --storage-driver vfs bud --isolation chroot -t "$tag" "$ctx" >"$cache/import.log" 2>&1 \
    || { tail -n 30 "$cache/import.log" >&2; exit 2; }
