#!/usr/bin/env bash
# Make the base image debian:bookworm-slim locally when no registry can be reached, from Debian's own
# packages (debootstrap), so the Dockerfiles build the same here as where the image can be pulled.
# Idempotent: does nothing when the engine already has the image.
set -euo pipefail
IMAGE=debian:bookworm-slim
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    exit 0
fi
if docker pull -q "$IMAGE" >/dev/null 2>&1; then
    exit 0
fi
command -v debootstrap >/dev/null || { echo "making $IMAGE needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
tree="$(mktemp -d /tmp/gameday-rootfs.XXXXXX)"
trap 'rm -rf "$tree"' EXIT
echo "==> no registry: making $IMAGE from Debian packages (debootstrap, about a minute)" >&2
debootstrap --variant=minbase bookworm "$tree" http://deb.debian.org/debian >/dev/null
rm -rf "$tree"/var/cache/apt/archives/*.deb "$tree"/var/lib/apt/lists/*
tar -C "$tree" -c . | docker import - "$IMAGE" >/dev/null
echo "==> $IMAGE made locally" >&2
