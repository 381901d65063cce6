#!/usr/bin/env bash
# Before/after benchmark of the launch path: two builds of jig, timed in one run.
#
# Builds the static release jig of git revision OLD (in a temporary worktree) and of
# the working tree, installs the same busybox recipe with each into a JIG_HOME of its
# own, and times, in interleaved hyperfine rounds (bench/lib.sh):
#   native      /bin/busybox true
#   old, new    the `true` shim of each build
#   old nested, new nested   the `sh` shim running `sh -c '<true shim>'`: a nested launch
#   old home_rw, new home_rw the `true` shim of the same recipe with `home_rw = [".benchrc"]`
#                            and that file in $HOME (a file jig stages and saves back)
# It reports medians and new - old, both as the median of per-round differences.
# Run as root too (ROOT=1 is implied by the uid), since root launches take other steps.
#
# Usage: [ROUNDS=N] bench/ab.sh OLD [RUNS]   (writes target/bench/ab.md and prints it)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
repo=$PWD
old_rev=${1:?usage: bench/ab.sh OLD-REVISION [RUNS]}
runs=${2:-1000}
bench_home ab
new_jig=$jig

git worktree add -q --detach "$work/old-src" "$old_rev"
trap 'git -C "$repo" worktree remove --force "$work/old-src"; rm -rf "$work"' EXIT
old_built=$("$work/old-src/script/build-release")

root=$work/rootfs
mkdir -p "$root"/{bin,dev,etc,proc,root,tmp}
cp /bin/busybox "$root/bin/busybox"
for a in sh true; do ln -s busybox "$root/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
cat >"$work/bench.toml" <<'TOML'
name = "bench"
version = "1"
[image]
from = "rootfs:rootfs"
[tool]
shims = ["true", "sh"]
TOML
sed 's/^\[tool\]/[mounts]\nhome_rw = [".benchrc"]\n[tool]/' "$work/bench.toml" >"$work/benchrw.toml"
for side in old new; do
  for kind in "" -rw; do
    home=$work/$side$kind-home
    mkdir -p "$home/bin"
    if [[ $side == old ]]; then cp "$old_built" "$home/bin/jig"; else cp "$new_jig" "$home/bin/jig"; fi
    recipe=$work/bench.toml
    [[ -z $kind ]] || recipe=$work/benchrw.toml
    JIG_HOME=$home "$home/bin/jig" install --yes "$recipe" >/dev/null 2>&1
  done
done
userhome=$work/user-home
mkdir -p "$userhome"
printf '[user]\n\tname = bench\n' >"$userhome/.benchrc"
project=$work/project
mkdir -p "$project"
cd "$project"
o=$work/old-home/shims n=$work/new-home/shims
for s in "$o" "$n"; do
  JIG_HOME=${s%/shims} "$s/true" && JIG_HOME=${s%/shims} "$s/sh" -c "$s/true" ||
    { echo "a command under test fails" >&2; exit 1; }
done
# Each shim finds its JIG_HOME from the environment; `env` sets it per command.
hyperfine_rounds "$runs" "$work/hyperfine" \
  -n native "env JIG_HOME=$work/new-home /bin/busybox true" \
  -n old "env JIG_HOME=$work/old-home $o/true" \
  -n new "env JIG_HOME=$work/new-home $n/true" \
  -n "old nested" "env JIG_HOME=$work/old-home $o/sh -c $o/true" \
  -n "new nested" "env JIG_HOME=$work/new-home $n/sh -c $n/true" \
  -n "old home_rw" "env HOME=$userhome JIG_HOME=$work/old-rw-home $work/old-rw-home/shims/true" \
  -n "new home_rw" "env HOME=$userhome JIG_HOME=$work/new-rw-home $work/new-rw-home/shims/true" \
  >"$work/rounds"
mapfile -t outs <"$work/rounds"

report=$(PYTHONPATH=$repo/bench python3 - "$old_rev" "$(id -un)" "${outs[@]}" <<'PY'
import sys
from rounds import Rounds
old_rev, user = sys.argv[1], sys.argv[2]
rs = Rounds(sys.argv[3:])
med = rs.median
print(rs.header())
print(f"\nold: {old_rev}; new: the working tree; run as {user}\n")
print("| command | median (ms) |")
print("|---|---:|")
for name in rs.names:
    print(f"| {name} | {med[name]:.3f} |")
print()
d = rs.per_round(lambda m: m["new"] - m["old"])
dn = rs.per_round(lambda m: m["new nested"] - m["old nested"])
print(f"- new - old (median of rounds): {d:+.3f} ms")
print(f"- new nested - old nested: {dn:+.3f} ms")
print(f"- new - native: {rs.per_round(lambda m: m['new'] - m['native']):.3f} ms")
drw = rs.per_round(lambda m: m["new home_rw"] - m["old home_rw"])
print(f"- new home_rw - old home_rw: {drw:+.3f} ms")
PY
)
mkdir -p "$repo/target/bench"
echo "$report" | tee "$repo/target/bench/ab.md"
