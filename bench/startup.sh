#!/usr/bin/env bash
# Startup benchmark: what a jig shim costs on top of running the binary natively.
#
# It times `true` from a busybox image, every contender in each of ROUNDS (default 5)
# hyperfine runs:
#   native   /bin/busybox true (the same static binary the image holds)
#   unshare  unshare -U (util-linux, a dynamic C program): a minimal user-namespaced launch
#   jig      the jig shim `true`, image cached (what users get on every call)
#   bwrap    bubblewrap with equivalent mounts (image root read-only, /proc, /dev,
#            /tmp, cwd bound at its own path)
#   pinned   the jig shim five directories below a jig.toml that pins its version,
#            with a jig.lock beside it (version resolution + lock check on every call)
#   outer    the shim `sh` of a second recipe running `sh -c '/bin/busybox true'`
#   nested   the same shell running the shim `true` instead: a nested launch
# and reports medians, jig - native, nested - outer (what a shim called inside a
# container costs, to compare with jig - native), jig / bwrap, and the shim's peak RSS.
# Targets (docs/benchmarks.md): jig <= native + 1.5 ms at the median, <= 0.7x bwrap,
# peak RSS <= 4 MiB.
#
# Usage: [ROUNDS=N] bench/startup.sh [RUNS]   (RUNS launches per command in all;
# writes target/bench/startup.md and prints it)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
repo=$PWD
runs=${1:-1000}
bench_home startup

# An image with the usual top-level directories, so bwrap (which cannot create
# mountpoints in a read-only root) and jig see the same tree.
root=$work/rootfs
mkdir -p "$root"/{bin,dev,etc,proc,root,tmp,usr/bin}
cp /bin/busybox "$root/bin/busybox"
for a in sh true; do ln -s busybox "$root/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
cat >"$work/bench.toml" <<'TOML'
name = "bench"
version = "1"
description = "startup benchmark image"
[image]
from = "rootfs:rootfs"
[tool]
shims = ["true"]
TOML
"$jig" install --yes "$work/bench.toml" >/dev/null 2>&1
# A realistic installed index: eight more recipes beside the one measured.
for i in 1 2 3 4 5 6 7 8; do
  sed -e "s/^name = .*/name = \"extra$i\"/" -e "s/^shims = .*/shims = [\"extra$i\", \"tool$i\"]/" \
    -e 's/^description = .*/description = "another installed recipe, so the index has a realistic size"/' \
    "$work/bench.toml" >"$work/extra$i.toml"
  "$jig" install --yes "$work/extra$i.toml" >/dev/null 2>&1
done
shim=$JIG_HOME/shims/true
# A tool calling a tool: a shell in one recipe's container runs another recipe's shim.
sed -e 's/^name = .*/name = "outer"/' -e 's/^shims = .*/shims = ["sh"]/' \
  "$work/bench.toml" >"$work/outer.toml"
"$jig" install --yes "$work/outer.toml" >/dev/null 2>&1
outer="$JIG_HOME/shims/sh -c '/bin/busybox true'"
nested="$JIG_HOME/shims/sh -c '$shim'"

# The project directory every launch binds: the benchmark runs from it.
project=$work/project
mkdir -p "$project"
mkdir -p "$root$project" # bwrap needs its mountpoint to exist in the image
cd "$project"

native="/bin/busybox true"
floor="unshare -U /bin/busybox true"
bwrap="bwrap --unshare-user --ro-bind $root / --ro-bind /proc /proc --dev /dev --tmpfs /tmp --bind $project $project --chdir $project /bin/true"
# A pinned project: jig.toml and jig.lock five directories above the cwd.
pinned=$work/pinned
deep=$pinned/a/b/c/d/e
mkdir -p "$deep" "$root$deep"
printf '[tools]\nbench = "1"\n' >"$pinned/jig.toml"
(cd "$pinned" && "$jig" lock --yes >/dev/null 2>&1)
pinned_cmd="env -C $deep $shim"
flat_cmd="env -C $project $shim"
$shim && $bwrap && $pinned_cmd && sh -c "$outer" && sh -c "$nested" || { echo "a command under test fails" >&2; exit 1; }
depths=$("$JIG_HOME/shims/sh" -c "echo \$JIG_DEPTH; $JIG_HOME/shims/sh -c 'echo \$JIG_DEPTH'")
[[ $depths == $'1\n2' ]] || { echo "no nested launch: JIG_DEPTH $depths" >&2; exit 1; }

hyperfine_rounds "$runs" "$work/hyperfine" \
  -n native "$native" -n unshare "$floor" -n jig "$shim" -n bwrap "$bwrap" \
  -n "env -C project jig" "$flat_cmd" -n "env -C pinned jig" "$pinned_cmd" \
  -n outer "$outer" -n nested "$nested" >"$work/rounds"
mapfile -t outs <"$work/rounds"

# Peak RSS of the shim process (it execs busybox true, so this is the larger of the
# two images' peaks), max over 50 runs, and of native busybox for comparison.
rss() { local m=0 v; for _ in $(seq 50); do v=$(/usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1); ((v > m)) && m=$v; done; echo "$m"; }
rss_jig=$(rss "$shim")
rss_native=$(rss /bin/busybox true)

report=$(PYTHONPATH=$repo/bench python3 - "$rss_jig" "$rss_native" "${outs[@]}" <<'PY'
import sys
from rounds import Rounds
rss_jig, rss_native = int(sys.argv[1]), int(sys.argv[2])
rs = Rounds(sys.argv[3:])
med, mean, per_round = rs.median, rs.mean, rs.per_round
print(rs.header())
print()
print("| command | median (ms) | mean (ms) | vs native |")
print("|---|---:|---:|---:|")
for name in ["native", "unshare", "jig", "bwrap", "env -C project jig", "env -C pinned jig", "outer", "nested"]:
    print(f"| {name} | {med[name]:.2f} | {mean[name]:.2f} | {med[name] / med['native']:.2f}x |")
print()
d = per_round(lambda m: m["jig"] - m["native"])
r = per_round(lambda m: m["jig"] / m["bwrap"])
print(f"- jig - native (median): {d:.2f} ms (target <= 1.5 ms): {'met' if d <= 1.5 else 'NOT met'}")
n = per_round(lambda m: m["nested"] - m["outer"])
print(f"- nested - outer (median): {n:.2f} ms: a shim called inside a container costs {n / d:.2f}x a top-level launch")
print(f"- jig / bwrap (median): {r:.2f} (target <= 0.7): {'met' if r <= 0.7 else 'NOT met'}")
p = per_round(lambda m: m["env -C pinned jig"] - m["env -C project jig"])
print(f"- version resolution with jig.toml + jig.lock 5 directories up: {p:+.2f} ms (both through `env -C`)")
print(f"- shim peak RSS: {rss_jig / 1024:.1f} MiB (native busybox: {rss_native / 1024:.1f} MiB; target <= 4 MiB): {'met' if rss_jig <= 4096 else 'NOT met'}")
PY
)
mkdir -p "$repo/target/bench"
echo "$report" | tee "$repo/target/bench/startup.md"
