#!/usr/bin/env bash
# Built-in tools against the host's own: what a shim costs on top of running the same
# program natively, for real, dynamically linked tools (bench/startup.sh measures the
# floor with a static busybox).
#
# Builds the built-in recipes git, curl and jq from the Debian mirror into a fresh
# JIG_HOME, at their Debian 12 (bookworm) versions, pinned in the global jig.toml (the
# defaults are Debian 13's), checks that the host has the same program versions (a
# Debian 12 host does: script/deps --bench installs them), and times, in a git
# repository of 300 files:
#   git --version, git status --short, git log --oneline -5, curl --version, jq -c . FILE
# each natively and through its jig shim, in ROUNDS (default 5) interleaved hyperfine
# runs, and `git status --short` once more through bench/floor.c: the git launch's
# namespaces, mounts and confinement without jig, in a child that a waiting process
# cloned (as jig's saving launch runs git), in place (as a launch that saves nothing
# runs), and in place in the etc-overlay layout for comparison. Reports medians, jig -
# native (median of per-round differences) and the ratio, and splits the git shim's
# cost into the machine's floor and jig's own share.
# Targets (docs/benchmarks.md): jig <= native + 1.5 ms, the git shim <= host git + 1.0 ms.
#
# Usage: [ROUNDS=N] bench/tools.sh [RUNS]   (RUNS launches per command in all, default
# 1000; writes target/bench/tools.md and prints it)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
repo=$PWD
runs=${1:-1000}
bench_home tools
"$jig" install --yes git@2.39 curl@7.88 jq@1.6 >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; exit 1; }
# The global pins (JIG_HOME is also the configuration directory here).
printf '[tools]\ngit = "2.39"\ncurl = "7.88"\njq = "1.6"\n' >"$JIG_HOME/jig.toml"
shims=$JIG_HOME/shims
# The floor: built the way jig is (static, musl when musl-gcc is there).
cc=gcc
command -v musl-gcc >/dev/null && cc=musl-gcc
"$cc" -O2 -static -o "$work/floor" bench/floor.c
rootfs=$("$jig" which git | sed -n 's/^rootfs: *//p')
mkdir "$work/scratch"

# The same program on both sides, or the comparison means nothing: compare the first
# line's program and version (curl's library list may differ by a security update).
for t in git curl jq; do
  host=$("/usr/bin/$t" --version | head -1 | cut -d' ' -f1-3)
  image=$("$shims/$t" --version | head -1 | cut -d' ' -f1-3)
  [[ $host == "$image" ]] || { echo "$t: host has '$host', the image '$image'" >&2; exit 1; }
done

project=$work/project
mkdir -p "$project/src"
for i in $(seq 300); do echo "line $i" >"$project/src/f$i.txt"; done
echo '{"name":"jig","tools":["git","curl","jq"],"n":[1,2,3]}' >"$project/data.json"
cd "$project"
# The host's git (a jig shim may come first on PATH).
/usr/bin/git init -q
g() { /usr/bin/git -c user.name=bench -c user.email=bench@example.invalid "$@"; }
g add -A
g commit -qm init
for i in 1 2 3 4 5; do
  echo "$i" >>src/f1.txt
  g commit -qam "change $i"
done
/usr/bin/git status --short >/dev/null # the index is fresh before either side reads it

cases=("git --version" "git status --short" "git log --oneline -5" "curl --version" "jq -c . data.json")
args=()
for c in "${cases[@]}"; do
  read -ra words <<<"$c"
  tool=${words[0]} rest=${c#* }
  "$shims/$tool" "${words[@]:1}" >/dev/null || { echo "jig: $c fails" >&2; exit 1; }
  args+=(-n "native $c" "/usr/bin/$tool $rest" -n "jig $c" "$shims/$tool $rest")
done
floor() { echo "$work/floor $1 $rootfs $work/scratch $JIG_HOME -- /usr/bin/git status --short"; }
$(floor overlay+wait) >/dev/null && $(floor etc-overlay) >/dev/null ||
  { echo "bench/floor.c fails" >&2; exit 1; }
args+=(-n "floor git status --short" "$(floor overlay+wait)"
  -n "floor in place git status --short" "$(floor overlay)"
  -n "floor etc-overlay git status --short" "$(floor etc-overlay)")
hyperfine_rounds "$runs" "$work/hyperfine" "${args[@]}" >"$work/rounds"
mapfile -t outs <"$work/rounds"

report=$(PYTHONPATH=$repo/bench python3 - "${cases[@]}" -- "${outs[@]}" <<'PY'
import sys
from rounds import Rounds
split = sys.argv.index("--")
cases, rs = sys.argv[1:split], Rounds(sys.argv[split + 1:])
print(rs.header())
print()
print("| command | native (ms) | jig (ms) | jig - native (ms) | jig / native |")
print("|---|---:|---:|---:|---:|")
worst = git_worst = 0
for c in cases:
    n, j = f"native {c}", f"jig {c}"
    d = rs.per_round(lambda m: m[j] - m[n])
    r = rs.per_round(lambda m: m[j] / m[n])
    worst = max(worst, d)
    print(f"| `{c}` | {rs.median[n]:.2f} | {rs.median[j]:.2f} | {d:+.2f} | {r:.2f}x |")
    if c.startswith("git "):
        git_worst = max(git_worst, d)
s = "git status --short"
f, i, e = (f"floor {s}", f"floor in place {s}", f"floor etc-overlay {s}")
floor = rs.per_round(lambda m: m[f] - m[f"native {s}"])
waiting = rs.per_round(lambda m: m[f] - m[i])
share = rs.per_round(lambda m: m[f"jig {s}"] - m[f])
layout = rs.per_round(lambda m: m[e] - m[i])
for name, how in ((f, "cloned and waited for"), (i, "in place"), (e, "etc-overlay, in place")):
    d = rs.per_round(lambda m: m[name] - m[f"native {s}"])
    print(f"| `{s}`, bench/floor.c {how} | {rs.median[f'native {s}']:.2f} | {rs.median[name]:.2f} | {d:+.2f} | |")
print()
print(f"- `{s}`: the git launch's kernel work alone (bench/floor.c, cloned by a waiting process "
      f"as the saving launch is) costs {floor:+.2f} ms over host git, {waiting:+.2f} ms of it "
      f"the waiting process; jig's own share (planning, the saved files) {share:+.2f} ms; "
      f"the etc-overlay layout would change an in-place launch by {layout:+.2f} ms")
print(f"- largest jig - native: {worst:.2f} ms (target <= 1.5 ms): {'met' if worst <= 1.5 else 'NOT met'}")
print(f"- largest git shim - host git: {git_worst:.2f} ms (target <= 1.0 ms): {'met' if git_worst <= 1.0 else 'NOT met'}")
PY
)
mkdir -p "$repo/target/bench"
echo "$report" | tee "$repo/target/bench/tools.md"
