#!/usr/bin/env bash
# The libFuzzer harnesses of fuzz/ (one file each, fuzz/<target>.c): builds
# them into build/fuzz/ and runs each for SECONDS (default 60; `make fuzz`
# passes FUZZ_SECONDS, `make test` 5) on a scratch copy of its corpus,
# fuzz/corpus/<target>/, kept in build/fuzz/corpus/<target>/: the inputs it
# finds stay there, not in git. Prints TAP, one line per harness; exits 1
# when a harness did not build or crashed (the input is then in
# build/fuzz/artifacts/<target>/, the report in build/fuzz/<target>.log;
# replay it with build/fuzz/<target> <input>).
#   scripts/fuzz.sh [SECONDS]
#
# bookd's sources (all of src/ but main.c) are compiled with coverage and
# the sanitizers into build/fuzz/libbookd.a, and each harness links what it
# uses from it. Objects and harnesses are rebuilt only when a file they were
# built from changed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
if ! [[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS]" >&2
  exit 2
fi
out=build/fuzz
jobs=2

# The longest input each harness is given (libFuzzer's -max_len).
declare -A max_len=(
  [json_text]=4096 [rfc3339]=64 [router]=512 [body]=8192 [working_hours]=4096
  [vapi]=16384 [integ_answers]=16384
)

scripts/deps.sh clang libclang-rt-14-dev

pkgs=(libpq libcrypto jansson libmicrohttpd libcurl)
read -ra pkg_cflags <<<"$(pkg-config --cflags "${pkgs[@]}")"
cflags=(-g -O1 -fno-omit-frame-pointer -std=c17 -Isrc -D_GNU_SOURCE -pthread "${pkg_cflags[@]}"
  "-fsanitize=address,undefined" -fno-sanitize-recover=undefined)
read -ra libs <<<"$(pkg-config --libs "${pkgs[@]}") -pthread -lm -ldl"
mkdir -p "$out/obj" "$out/gen"

# Other flags than last time: everything is built again.
if [[ "$(cat "$out/flags" 2>/dev/null)" != "${cflags[*]}" ]]; then
  rm -rf "$out/obj" "$out/libbookd.a"
  mkdir -p "$out/obj"
  echo "${cflags[*]}" >"$out/flags"
fi

# Is $1 missing, or older than a file its dependency file $1.d names?
stale() {
  local dep deps
  [[ -f "$1" && -f "$1.d" ]] || return 0
  deps=$(sed -e 's/\\$//' -e 's/^[^:]*://' "$1.d")
  for dep in $deps; do
    [[ -f "$dep" && ! "$dep" -nt "$1" ]] || return 0
  done
  return 1
}

# Runs "$@" in the background, at most $jobs at a time; `wait` ends it.
running=0
spawn() {
  "$@" &
  running=$((running + 1))
  if ((running >= jobs)); then
    wait -n || true
    running=$((running - 1))
  fi
}

# shellcheck disable=SC2317 # (run through spawn)
compile_object() {
  local src=$1 obj=$2
  clang "${cflags[@]}" -fsanitize=fuzzer-no-link -MMD -MF "$obj.d" -c "$src" -o "$obj" \
    >"$obj.log" 2>&1 || rm -f "$obj"
}

# shellcheck disable=SC2317 # (run through spawn)
link_harness() {
  local t=$1
  clang "${cflags[@]}" -fsanitize=fuzzer -MMD -MF "$out/$t.d" "fuzz/$t.c" "$out/libbookd.a" \
    "${libs[@]}" -o "$out/$t" >"$out/$t.build.log" 2>&1 || rm -f "$out/$t"
}

# The generated sources the server links, made by the scripts the
# Makefile uses: the OpenAPI document and the pages.
if [[ ! -f "$out/gen/openapi_json.c" || openapi.json -nt "$out/gen/openapi_json.c" ]]; then
  scripts/embed.sh openapi.json api_openapi_json "$out/gen/openapi_json.c"
fi
if [[ ! -f "$out/gen/web_assets.c" ||
  -n "$(find web scripts/embed_web.sh -newer "$out/gen/web_assets.c" -print -quit)" ]]; then
  scripts/embed_web.sh web "$out/gen/web_assets.c"
fi

# bookd's objects, instrumented for the fuzzer, without main().
objs=()
while read -r src; do
  obj="$out/obj/${src%.c}.o"
  objs+=("$obj")
  if stale "$obj"; then
    mkdir -p "$(dirname "$obj")"
    spawn compile_object "$src" "$obj"
  fi
done < <(find src -name '*.c' ! -path src/main.c | sort)
wait
for g in openapi_json web_assets; do
  if [[ ! -f "$out/gen/$g.o" || "$out/gen/$g.c" -nt "$out/gen/$g.o" ]]; then
    clang -Isrc -c "$out/gen/$g.c" -o "$out/gen/$g.o"
  fi
  objs+=("$out/gen/$g.o")
done

targets=()
for f in fuzz/*.c; do
  targets+=("$(basename "$f" .c)")
done
echo "1..${#targets[@]}"

broken=()
for obj in "${objs[@]}"; do
  [[ -f "$obj" ]] || broken+=("${obj#"$out/obj/"}")
done
if [[ ${#broken[@]} -gt 0 ]]; then
  for i in "${!targets[@]}"; do
    echo "not ok $((i + 1)) - ${targets[$i]}: did not build (bookd's ${broken[*]%.o}.c:" \
      "see $out/obj/<file>.o.log)"
  done
  exit 1
fi
# Made afresh when an object changed or the list did (a source removed
# from src/ must not stay in the archive).
if [[ ! -f "$out/libbookd.a" || "$(cat "$out/objs.list" 2>/dev/null)" != "${objs[*]}" ||
  -n "$(find "${objs[@]}" -newer "$out/libbookd.a" -print -quit)" ]]; then
  rm -f "$out/libbookd.a"
  ar rcs "$out/libbookd.a" "${objs[@]}"
  echo "${objs[*]}" >"$out/objs.list"
fi

# The harnesses, then each in turn, for $seconds.
for t in "${targets[@]}"; do
  if stale "$out/$t" || [[ "$out/libbookd.a" -nt "$out/$t" ]]; then
    spawn link_harness "$t"
  fi
done
wait

k=0 failed=0
for t in "${targets[@]}"; do
  k=$((k + 1))
  if [[ ! -x "$out/$t" ]]; then
    echo "not ok $k - $t: did not build ($out/$t.build.log)"
    failed=1
    continue
  fi
  corpus="$out/corpus/$t" artifacts="$out/artifacts/$t/" log="$out/$t.log"
  mkdir -p "$corpus" "$artifacts"
  if [[ -d "fuzz/corpus/$t" ]]; then
    cp -n "fuzz/corpus/$t"/* "$corpus"/ 2>/dev/null || true
  fi
  if UBSAN_OPTIONS="print_stacktrace=1:${UBSAN_OPTIONS:-}" "$out/$t" \
    -max_total_time="$seconds" -max_len="${max_len[$t]:-4096}" -timeout=30 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    inputs=$(find "$corpus" -type f | wc -l)
    echo "ok $k - $t: ${execs:-0} executions, $inputs inputs"
  else
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    echo "not ok $k - $t: crash (${artifact:-no input written; see $log})"
    failed=1
  fi
done
exit "$failed"
