#!/usr/bin/env bash
# Builds the binaries of a single-node Kubernetes cluster from Debian bookworm's source package `kubernetes`
# (the upstream v1.20.2 tree with its vendor/ folder) with Debian's Go, once: the result is cached outside the
# clone, under $GAMEDAY_K8S_CACHE (default /var/cache/gameday/k8s), keyed by the source version, so a second run
# finds it and does nothing. Also builds the pod sandbox (`pause`, static, from the tree's build/pause/linux/pause.c).
#
#   k8s/build.sh            build what is missing; print the folder of the binaries
#   k8s/build.sh --check    exit 0 when the cached binaries are there, 1 when not (builds nothing)
#
# Needs root (apt-get) on a machine without the packages; reaches only Debian's mirror.
set -euo pipefail

CACHE="${GAMEDAY_K8S_CACHE:-/var/cache/gameday/k8s}"
UPSTREAM="1.20.2"                  # bookworm's source package is 1.20.5+really1.20.2; the cache is keyed by it
KEY="kubernetes-$UPSTREAM"
OUT="$CACHE/$KEY/bin"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl pause)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

have_all() { for b in "${BINARIES[@]}"; do [ -x "$OUT/$b" ] || return 1; done; }

if [ "${1:-}" = "--check" ]; then have_all; exit $?; fi
[ "$(id -u)" -eq 0 ] || { echo "k8s/build.sh: the cluster's build installs Debian packages: run it as root" >&2; exit 1; }

PACKAGES=(golang-go golang-github-modern-go-reflect2-dev dpkg-dev gcc libc6-dev make rsync
          etcd-server containerd runc containernetworking-plugins iptables conntrack)   # the last six run the cluster
missing=()
for p in "${PACKAGES[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages for the cluster's build: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if have_all; then echo "$OUT"; exit 0; fi

# Debian's sources, beside the binary entries this machine already has (the same mirrors and suites)
if ! apt-get indextargets --format '$(CREATED_BY)' 2>/dev/null | grep -qx Sources; then
    say "adding deb-src entries for Debian's mirrors (/etc/apt/sources.list.d/gameday-deb-src.sources)"
    {
        echo "# added by gameday's k8s/build.sh: Debian's source packages, for the test cluster's build"
        echo "Types: deb-src"
        echo "URIs: http://deb.debian.org/debian"
        echo "Suites: bookworm bookworm-updates"
        echo "Components: main"
        echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
    } > /etc/apt/sources.list.d/gameday-deb-src.sources
    apt-get update -qq
fi

WORK="$CACHE/$KEY"
mkdir -p "$WORK"
cd "$WORK"
SRC="$(find . -maxdepth 1 -type d -name 'kubernetes-*' | head -1)"
if [ -z "$SRC" ]; then
    version="$(apt-cache showsrc kubernetes | sed -n 's/^Version: //p' | head -1)"
    case "$version" in *"really$UPSTREAM"*) ;; *) echo "k8s/build.sh: Debian's kubernetes source is $version, not $UPSTREAM" >&2; exit 1;; esac
    say "fetching Debian's source package kubernetes $version"
    apt-get source -qq "kubernetes=$version" >/dev/null
    echo "$version" > "$WORK/debian-version"
    SRC="$(find . -maxdepth 1 -type d -name 'kubernetes-*' | head -1)"
fi
cd "$SRC"

# reflect2 1.0.1, as vendored, crashes on Go 1.18 and later; Debian's 1.0.2 works in its place
reflect2=/usr/share/gocode/src/github.com/modern-go/reflect2
if ! grep -q "1.0.2" vendor/github.com/modern-go/reflect2/.gameday-replaced 2>/dev/null; then
    say "replacing the vendored reflect2 with Debian's ($reflect2)"
    rm -rf vendor/github.com/modern-go/reflect2
    mkdir -p vendor/github.com/modern-go/reflect2
    cp -r "$reflect2"/. vendor/github.com/modern-go/reflect2/
    echo "1.0.2 from $reflect2" > vendor/github.com/modern-go/reflect2/.gameday-replaced
fi

export GOPROXY=off CGO_ENABLED=0
mkdir -p "$OUT"
for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
    [ -x "$OUT/$b" ] && continue
    say "building $b (the first takes about 6 minutes on 2 cores, the others about a minute each)"
    start=$SECONDS
    make WHAT="cmd/$b" >"$WORK/build-$b.log" 2>&1 || { tail -20 "$WORK/build-$b.log" >&2; exit 1; }
    cp "_output/local/bin/linux/amd64/$b" "$OUT/$b.tmp" && mv "$OUT/$b.tmp" "$OUT/$b"
    echo "$b $((SECONDS - start))" >> "$WORK/build-times"
done
if [ ! -x "$OUT/pause" ]; then
    say "building the pod sandbox (pause, static)"
    gcc -Os -static -DVERSION="gameday" -o "$OUT/pause.tmp" build/pause/linux/pause.c && mv "$OUT/pause.tmp" "$OUT/pause"
fi
echo "$OUT"
