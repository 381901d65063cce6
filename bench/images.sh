#!/usr/bin/env bash
# Build benchmark for the built-in Debian recipes: for each, a cold build (empty
# JIG_HOME: index, downloads, bootstrap) and a warm rebuild (nothing changed: no work
# beyond checking the signed index), plus the image size and package count.
#
# For git, mmdebstrap (apt variant + the same packages, into a directory) is timed right
# after jig's cold build, so the comparison survives this kind of VM's changing speed.
#
# Then the shared store: the recipes installed one after another into one JIG_HOME
# (the first builds the suite's base, the others install their packages on it): each
# install's time against its cold time above, and the disk the images take without
# sharing (`du` of each recipe's image on its own, as if each had its own copies) and
# with it (`du` of images/ and files/ together, each inode counted once).
#
# Then the image cache (`[cache]` of config.toml) on a loopback docker-registry, for the
# first recipe: a cold build that pushes (the push's cost over the cold build above),
# and a cold install from the cache in an empty JIG_HOME (no build step, no Debian
# mirror), against the cold build; then the second recipe, pushed from the same home
# and installed from the cache where the first is (a recipe of the same suite finds
# the base there and downloads only its own layer).
#
# Usage: bench/images.sh [RECIPE...]   (default: every built-in Debian recipe)
# Writes target/bench/images.md and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
script/deps --bench
jig=$(script/build-release)
recipes=("$@")
[[ ${#recipes[@]} -gt 0 ]] || recipes=(git npm gitk jq curl python3 make shellcheck vim)
work=$(mktemp -d "${TMPDIR:-/tmp}/jig-bench-images.XXXXXX")
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
rows=()
for r in "${recipes[@]}"; do
  export JIG_HOME=$work/$r
  t0=$(now)
  "$jig" install --yes "$r" >"$work/$r.log" 2>&1 || { cat "$work/$r.log" >&2; exit 1; }
  t1=$(now)
  "$jig" install --yes "$r" >"$work/$r.warm.log" 2>&1
  t2=$(now)
  grep -q "up to date" "$work/$r.warm.log" || { echo "$r: warm rebuild did work" >&2; exit 1; }
  pkgs=$(sed -n 's/.*bootstrapping debian:[a-z]* with \([0-9]*\) packages.*/\1/p' "$work/$r.log")
  boot=$(sed -n 's/.* built in \([0-9.]*\) s.*/\1/p' "$work/$r.log")
  size=$("$jig" images | awk -v r="$r" 'NR > 1 && index($0, r "@") { print $2, $3 }')
  if [[ $r == git && $(id -u) -eq 0 ]]; then
    m0=$(now)
    mmdebstrap --quiet --variant=apt --include=git,ca-certificates,openssh-client,less,nano,vim-tiny,man-db \
      trixie "$work/mmdebstrap" http://deb.debian.org/debian
    m1=$(now)
    rm -rf "$work/mmdebstrap"
    mm_line="git: jig $(printf %.1f "$(echo "$t1 - $t0" | bc)") s, mmdebstrap (apt + git, same packages) $(printf %.1f "$(echo "$m1 - $m0" | bc)") s: jig / mmdebstrap = $(printf %.2f "$(echo "($t1 - $t0) / ($m1 - $m0)" | bc -l)")"
  fi
  rows+=("| $r | $pkgs | $(printf %.1f "$(echo "$t1 - $t0" | bc)") | $boot | $(printf %.2f "$(echo "$t2 - $t1" | bc)") | $size |")
  rm -rf "$JIG_HOME"
done

export JIG_HOME=$work/shared
shared_rows=()
unshared=0
for r in "${recipes[@]}"; do
  t0=$(now)
  "$jig" install --yes "$r" >"$work/$r.shared.log" 2>&1 || { cat "$work/$r.shared.log" >&2; exit 1; }
  t1=$(now)
  cold=$(printf '%s\n' "${rows[@]}" | awk -F' *\\| *' -v r="$r" '$2 == r { print $4 }')
  dir=$JIG_HOME/store/images/$("$jig" which "$r" | sed -n 's/^image: *sha256:\([0-9a-f]*\).*/\1/p')
  alone=$(du -sB1M "$dir" | cut -f1)
  unshared=$((unshared + alone))
  shared_rows+=("| $r | $(printf %.1f "$(echo "$t1 - $t0" | bc)") | $cold | $(printf %.2f "$(echo "($t1 - $t0) / $cold" | bc -l)") | $alone |")
done
shared=$(du -csB1M "$JIG_HOME/store/images" "$JIG_HOME/store/files" | tail -1 | cut -f1)

# The image cache: a registry on a free loopback port, storage in $work.
cache_line=
if command -v docker-registry >/dev/null; then
  r=${recipes[0]}
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$work/registry" "$port" >"$work/registry.yml"
  docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
  registry_pid=$!
  trap 'kill "$registry_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
  cached() { # JIG_HOME PUSH: a home whose config names the cache
    mkdir -p "$1"
    printf '[cache]\nregistry = "127.0.0.1:%s/bench"\npush = %s\n' "$port" "$2" >"$1/config.toml"
  }
  cached "$work/cache-build" true
  export JIG_HOME=$work/cache-build
  t0=$(now)
  "$jig" install --yes "$r" >"$work/$r.cache-build.log" 2>&1 || { cat "$work/$r.cache-build.log" >&2; exit 1; }
  t1=$(now)
  grep -q "pushed to the cache" "$work/$r.cache-build.log" || { cat "$work/$r.cache-build.log" >&2; exit 1; }
  cached "$work/cache-pull" false
  export JIG_HOME=$work/cache-pull
  t2=$(now)
  "$jig" install --yes "$r" >"$work/$r.cache-pull.log" 2>&1 || { cat "$work/$r.cache-pull.log" >&2; exit 1; }
  t3=$(now)
  grep -q "from the cache" "$work/$r.cache-pull.log" || { cat "$work/$r.cache-pull.log" >&2; exit 1; }
  cold=$(printf '%s\n' "${rows[@]}" | awk -F' *\\| *' -v r="$r" '$2 == r { print $4 }')
  layer=$(du -sB1M "$work/registry" | cut -f1)
  cache_line="$r: cold build $cold s; cold build and push $(printf %.1f "$(echo "$t1 - $t0" | bc)") s; cold install from the cache $(printf %.1f "$(echo "$t3 - $t2" | bc)") s (registry holds $layer MiB): from the cache / cold build = $(printf %.2f "$(echo "($t3 - $t2) / $cold" | bc -l)")"
  # The second recipe: built and pushed on the first's base, then installed from the
  # cache in the home that has the first (and so its base, when both are of one suite).
  if [[ ${#recipes[@]} -gt 1 ]]; then
    r2=${recipes[1]}
    export JIG_HOME=$work/cache-build
    "$jig" install --yes "$r2" >"$work/$r2.cache-build.log" 2>&1 || { cat "$work/$r2.cache-build.log" >&2; exit 1; }
    both=$(du -sB1M "$work/registry" | cut -f1)
    export JIG_HOME=$work/cache-pull
    t4=$(now)
    "$jig" install --yes "$r2" >"$work/$r2.cache-pull.log" 2>&1 || { cat "$work/$r2.cache-pull.log" >&2; exit 1; }
    t5=$(now)
    grep -q "from the cache" "$work/$r2.cache-pull.log" || { cat "$work/$r2.cache-pull.log" >&2; exit 1; }
    base="base downloaded"
    grep -q "is in the store; not downloaded" "$work/$r2.cache-pull.log" && base="base already here, only its own layer downloaded"
    cold2=$(printf '%s\n' "${rows[@]}" | awk -F' *\\| *' -v r="$r2" '$2 == r { print $4 }')
    cache_line+="; then $r2 from the cache ($base) $(printf %.1f "$(echo "$t5 - $t4" | bc)") s against its cold build $cold2 s; the registry with both $both MiB"
  fi
fi

mkdir -p target/bench
{
  echo "Machine: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(nproc) cores, Linux $(uname -r)"
  echo
  echo "| recipe | packages | cold install (s) | of which dpkg bootstrap (s) | warm rebuild (s) | image size |"
  echo "|---|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
  [[ -z ${mm_line:-} ]] || { echo; echo "$mm_line"; }
  echo
  echo "One store, in this order (the first builds the suite's base):"
  echo
  echo "| recipe | install (s) | cold alone (s) | install / cold | image alone (MiB) |"
  echo "|---|---:|---:|---:|---:|"
  printf '%s\n' "${shared_rows[@]}"
  echo
  [[ -z $cache_line ]] || { echo "Image cache (loopback docker-registry): $cache_line"; echo; }
  echo "Disk: the recipes' images $unshared MiB each on its own (no sharing); the whole store's images and shared files (the base included) $shared MiB ($(printf %.2f "$(echo "$shared / $unshared" | bc -l)")x)"
} | tee target/bench/images.md
