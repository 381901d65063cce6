# shellcheck shell=bash
# Shared by the launch benchmarks (bench/startup.sh, bench/tools.sh); sourced, not run.
#
# This kind of VM drifts by more than the differences measured, and hyperfine runs each
# command's launches back to back. So the launches are split into ROUNDS (default 5)
# hyperfine runs of every contender, and bench/rounds.py reports each difference as the
# median of the per-round differences, which compare launches made seconds, not
# minutes, apart.

# bench_home NAME
# Installs the benchmark tools, builds the release jig and sets up a scratch directory
# $work (removed on exit) with a fresh JIG_HOME (exported) holding that jig in its
# bin/, the way script/install places it; $jig names it.
bench_home() {
  script/deps --bench
  local built
  built=$(script/build-release)
  work=$(mktemp -d "${TMPDIR:-/tmp}/jig-bench-$1.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  export JIG_HOME=$work/home
  mkdir -p "$JIG_HOME/bin"
  cp "$built" "$JIG_HOME/bin/jig"
  # shellcheck disable=SC2034 # used by the scripts that source this
  jig=$JIG_HOME/bin/jig
}

# hyperfine_rounds RUNS PREFIX -n NAME CMD [-n NAME CMD ...]
# RUNS launches per command in all; writes PREFIX.N.json for each round and prints the
# paths, one per line. Commands run without a shell (-N), output discarded.
hyperfine_rounds() {
  local runs=$1 prefix=$2 rounds=${ROUNDS:-5} r
  shift 2
  local per_round=$(((runs + rounds - 1) / rounds))
  for r in $(seq "$rounds"); do
    hyperfine -N --warmup 50 --runs "$per_round" --export-json "$prefix.$r.json" "$@" >&2
    echo "$prefix.$r.json"
  done
}
