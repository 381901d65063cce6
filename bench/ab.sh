#!/usr/bin/env bash
# Before/after benchmark of the launch path: two builds of jig, timed in one run.
#
# Builds the static release jig of git revision OLD and of NEW (default: the working
# tree), each in a temporary worktree, installs the same busybox recipe with each into
# a JIG_HOME of its own, and times, in interleaved hyperfine rounds (bench/lib.sh):
#   native      /bin/busybox true
#   old, new    the `true` shim of each build
#   old nested, new nested   the `sh` shim running `sh -c '<true shim>'`: a nested launch
#   old home_rw, new home_rw the `true` shim of the same recipe with `home_rw = [".benchrc"]`
#                            and that file in $HOME (a file jig stages and saves back)
# It reports medians and new - old, both as the median of per-round differences.
# Every command runs through `env` (which sets JIG_HOME), so each pays the same extra.
#
# AS=USER runs the launches as that (unprivileged) user, through setpriv; run as root
# otherwise measures root's launches, which take other steps (the capability drop).
#
# OLD or NEW may also be the path of a jig binary built before (script/build-release
# prints it), which saves its build when comparing several times.
#
# Usage: [ROUNDS=N] [AS=USER] bench/ab.sh OLD [NEW|.] [RUNS]
# (writes target/bench/ab.md and prints it)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
repo=$PWD
old_rev=${1:?usage: bench/ab.sh OLD-REVISION [NEW-REVISION|.] [RUNS]}
new_rev=${2:-.}
runs=${3:-1000}
bench_home ab
chmod 755 "$work"

# A release build of revision $1 ("." for the working tree), printed as a path.
build_rev() {
  if [[ $1 == . ]]; then
    echo "$jig"
    return
  fi
  if [[ $1 == */* && -x $1 ]]; then
    echo "$1"
    return
  fi
  local src=$work/src-$(git rev-parse --short "$1")
  git worktree add -q --detach "$src" "$1" >&2
  "$src/script/build-release"
}
cleanup() {
  for s in "$work"/src-*; do [[ -d $s ]] && git -C "$repo" worktree remove --force "$s"; done
  rm -rf "$work"
}
trap cleanup EXIT
old_built=$(build_rev "$old_rev")
new_built=$(build_rev "$new_rev")

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
project=$work/project
userhome=$work/user-home
mkdir -p "$project" "$userhome"
printf '[user]\n\tname = bench\n' >"$userhome/.benchrc"
chmod -R a+rX "$work"
as=()
if [[ -n ${AS:-} ]]; then
  as=(setpriv "--reuid=$(id -u "$AS")" "--regid=$(id -g "$AS")" --init-groups --)
  chown -R "$AS" "$project" "$userhome"
fi
for side in old new; do
  for kind in "" -rw; do
    home=$work/$side$kind-home
    mkdir -p "$home/bin"
    if [[ $side == old ]]; then cp "$old_built" "$home/bin/jig"; else cp "$new_built" "$home/bin/jig"; fi
    recipe=$work/bench.toml
    [[ -z $kind ]] || recipe=$work/benchrw.toml
    [[ -n ${AS:-} ]] && chown -R "$AS" "$home"
    (cd "$project" && "${as[@]}" env JIG_HOME="$home" HOME="$home" "$home/bin/jig" install --yes "$recipe" >/dev/null 2>&1)
  done
done
cd "$project"
o=$work/old-home/shims n=$work/new-home/shims
run() { echo "${as[*]} env JIG_HOME=$1 HOME=$1 ${*:2}"; }
for s in "$o" "$n"; do
  h=${s%/shims}
  eval "$(run "$h" "$s/true")" && eval "$(run "$h" "$s/sh" -c "$s/true")" ||
    { echo "a command under test fails" >&2; exit 1; }
done
hyperfine_rounds "$runs" "$work/hyperfine" \
  -n native "$(run "$work/new-home" /bin/busybox true)" \
  -n old "$(run "$work/old-home" "$o/true")" \
  -n new "$(run "$work/new-home" "$n/true")" \
  -n "old nested" "$(run "$work/old-home" "$o/sh" -c "$o/true")" \
  -n "new nested" "$(run "$work/new-home" "$n/sh" -c "$n/true")" \
  -n "old home_rw" "$(run "$work/old-rw-home" env HOME="$userhome" "$work/old-rw-home/shims/true")" \
  -n "new home_rw" "$(run "$work/new-rw-home" env HOME="$userhome" "$work/new-rw-home/shims/true")" >"$work/rounds"
mapfile -t outs <"$work/rounds"

report=$(PYTHONPATH=$repo/bench python3 - "$old_rev" "$new_rev" "${AS:-$(id -un)}" "${outs[@]}" <<'PY'
import sys
from rounds import Rounds
old_rev, new_rev, user = sys.argv[1:4]
rs = Rounds(sys.argv[4:])
med = rs.median
print(rs.header())
new = "the working tree" if new_rev == "." else new_rev
print(f"\nold: {old_rev}; new: {new}; launches run as {user}\n")
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
