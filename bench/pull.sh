#!/usr/bin/env bash
# Registry pull benchmark: jig pull vs skopeo copy, same image, same registry, same run.
#
# Builds a ~50 MB multi-layer image (busybox + three layers of random, incompressible
# data, gzip'ed), uploads it to Debian's docker-registry on a free loopback port with
# the registry HTTP API, then times with hyperfine:
#   jig pull    into a fresh JIG_HOME (download + verify + unpack + tree hash + commit)
#   skopeo copy docker://... dir:...  (download + verify only, no unpack)
#
# Needs: docker-registry, skopeo, hyperfine, curl, busybox-static, a release jig
# (cargo build --release). Usage: bench/pull.sh [RUNS]   (default 10)
set -euo pipefail

runs=${1:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
jig=${JIG:-$root/target/release/jig}
[ -x "$jig" ] || { echo "build first: cargo build --release" >&2; exit 1; }
for t in docker-registry skopeo hyperfine curl; do
    command -v "$t" >/dev/null || { echo "missing: $t" >&2; exit 1; }
done

work=$(mktemp -d /tmp/jig-bench-pull.XXXXXX)
reg_pid=
cleanup() {
    if [ -n "$reg_pid" ]; then
        kill "$reg_pid" 2>/dev/null || true
        wait "$reg_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
base=http://127.0.0.1:$port
for _ in $(seq 100); do curl -fs "$base/v2/" >/dev/null && break; sleep 0.1; done

sha() { sha256sum "$1" | cut -d' ' -f1; }
upload() { # FILE -> prints digest
    local d loc
    d=sha256:$(sha "$1")
    loc=$(curl -fsS -X POST -D - -o /dev/null "$base/v2/bench/blobs/uploads/" |
        tr -d '\r' | awk 'tolower($1)=="location:" {print $2}')
    case $loc in http*) ;; *) loc=$base$loc ;; esac
    case $loc in *\?*) loc="$loc&digest=$d" ;; *) loc="$loc?digest=$d" ;; esac
    curl -fsS -X PUT -H 'Content-Type: application/octet-stream' \
        --data-binary @"$1" "$loc" >/dev/null
    echo "$d"
}

# Layers: busybox, then 3 x 16 MiB of random data in a few files each.
mkdir -p "$work/l0/bin" "$work/l0/etc"
cp /bin/busybox "$work/l0/bin/busybox"
for a in sh ls cat echo; do ln -s busybox "$work/l0/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$work/l0/etc/passwd"
for i in 1 2 3; do
    mkdir -p "$work/l$i/data$i"
    for j in 1 2 3 4; do head -c $((4 << 20)) /dev/urandom >"$work/l$i/data$i/blob$j"; done
done
layers_json=
diff_ids=
for i in 0 1 2 3; do
    tar -C "$work/l$i" --sort=name --owner=0 --group=0 --numeric-owner -cf "$work/layer$i.tar" .
    diff_ids+="${diff_ids:+,}\"sha256:$(sha "$work/layer$i.tar")\""
    gzip -1 -n -c "$work/layer$i.tar" >"$work/layer$i.tar.gz"
    d=$(upload "$work/layer$i.tar.gz")
    size=$(stat -c %s "$work/layer$i.tar.gz")
    layers_json+="${layers_json:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$d\",\"size\":$size}"
done
printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
    "$diff_ids" >"$work/config.json"
cd_digest=$(upload "$work/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s]}' \
    "$cd_digest" "$(stat -c %s "$work/config.json")" "$layers_json" >"$work/manifest.json"
curl -fsS -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary @"$work/manifest.json" "$base/v2/bench/manifests/1" >/dev/null

total=$(cat "$work"/layer*.tar.gz | wc -c)
echo "image: 127.0.0.1:$port/bench:1, 4 layers, $((total / 1024 / 1024)) MiB compressed" >&2

hyperfine --warmup 1 --runs "$runs" --export-markdown "$work/result.md" \
    --prepare "rm -rf $work/jig-home" \
    -n "jig pull" "JIG_HOME=$work/jig-home $jig pull 127.0.0.1:$port/bench:1" \
    --prepare "rm -rf $work/skopeo-dir" \
    -n "skopeo copy" "skopeo copy -q --src-tls-verify=false docker://127.0.0.1:$port/bench:1 dir:$work/skopeo-dir"
cat "$work/result.md"
