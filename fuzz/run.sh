#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Build the libFuzzer targets with clang (build/fuzz) and run each one for a
# bounded time, one after the other.
#   fuzz/run.sh [--seconds N] [--results DIR] [TARGET...]
# Per target: the working corpus build/fuzz/work/<target> (kept between runs,
# so longer runs build on shorter ones), seeded from the generated seeds (gen_corpus.py) and
# fuzz/regressions/<target>; crashes go to build/fuzz/artifacts/<target>/.
# Prints runs, exec/s and libFuzzer's cov:/ft: per target, the path of any
# crashing input, and writes DIR/counts ("passed failed skipped", one count
# per target). Exit 0 when no target crashed, 1 otherwise, 4 when clang's
# fuzzer runtime is missing (every target skipped; 0 with --results, where
# the counts say so, as tools/check-all.sh expects of a suite; with
# CRAB_STRICT=1 a missing runtime fails every target, exit 1).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
seconds=60
results=
targets=()
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--results) results=$2; shift 2 ;;
	-h|--help) sed -n '3,14p' "$0"; exit 0 ;;
	-*) echo "error: unknown option '$1'" >&2; exit 2 ;;
	*) targets+=("$1"); shift ;;
	esac
done
[ ${#targets[@]} -gt 0 ] || targets=(opt lb_core vip_config toml_config)
case $seconds in ''|*[!0-9]*) echo "error: --seconds wants a number, got '$seconds'" >&2; exit 2 ;; esac
for t in "${targets[@]}"; do
	[ -f "$top/fuzz/fuzz_$t.cpp" ] || { echo "error: no fuzz target '$t' (fuzz/fuzz_$t.cpp)" >&2; exit 2; }
done
build=$top/build/fuzz
[ -n "$results" ] && mkdir -p "$results"
counts() { [ -z "$results" ] || echo "$1 $2 $3" >"$results/counts"; }

# Maximum input size per target (bytes): what its input format can use.
declare -A max_len=([opt]=67 [lb_core]=1600 [vip_config]=4096 [toml_config]=2048)

# Debian's clang-14 takes libFuzzer from libclang-rt-14-dev.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe/p.c"
if ! clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>"$probe/err"; then
	# A dependency of make deps: with CRAB_STRICT=1 (CI) that is a failure.
	if [ "${CRAB_STRICT:-0}" = 1 ]; then
		echo "FAIL: clang cannot build a libFuzzer binary (install clang and libclang-rt-14-dev; CRAB_STRICT=1):"
		head -n3 "$probe/err"
		counts 0 ${#targets[@]} 0
		exit 1
	fi
	echo "SKIP: clang cannot build a libFuzzer binary (install clang and libclang-rt-14-dev):"
	head -n3 "$probe/err"
	counts 0 0 ${#targets[@]}
	[ -z "$results" ] || printf 'fuzz/%s\tclang cannot build a libFuzzer binary (libclang-rt-14-dev)\n' \
		"${targets[@]}" >"$results/skips"
	[ -n "$results" ] && exit 0
	exit 4
fi

mkdir -p "$build"
echo "fuzz: building ${targets[*]} with clang in $build"
if ! cmake -S "$top/fuzz" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	-DCMAKE_BUILD_TYPE= >"$build/cmake.log" 2>&1 ||
   ! cmake --build "$build" -j "${J:-2}" --target "${targets[@]/#/fuzz_}" >"$build/build.log" 2>&1; then
	tail -n 30 "$build/cmake.log" "$build/build.log" 2>/dev/null
	echo "fuzz: build failed"
	counts 0 ${#targets[@]} 0
	exit 1
fi

rm -rf "$build/seeds"
python3 "$top/fuzz/gen_corpus.py" -o "$build/seeds" || { echo "fuzz: gen_corpus.py failed"; counts 0 ${#targets[@]} 0; exit 1; }

pass=0 fail=0
for t in "${targets[@]}"; do
	work=$build/work/$t art=$build/artifacts/$t log=$build/logs/$t.log
	mkdir -p "$work" "$art" "$(dirname "$log")"
	seeds=()
	for d in "$build/seeds/$t" "$top/fuzz/regressions/$t"; do [ -d "$d" ] && seeds+=("$d"); done
	dict=()
	[ -f "$top/fuzz/dict/$t.dict" ] && dict=(-dict="$top/fuzz/dict/$t.dict")
	echo "fuzz: $t for ${seconds}s"
	start=$(date +%s)
	"$build/fuzz_$t" "$work" "${seeds[@]}" "${dict[@]}" -max_total_time="$seconds" \
		-max_len="${max_len[$t]:-4096}" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$art/" >"$log" 2>&1
	rc=$?
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
	corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$done_line")
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	if [ "$rc" = 0 ] && [ -n "$done_line" ]; then
		printf 'fuzz: %-12s ok    %ss, %s runs, %s exec/s, cov: %s ft: %s corpus: %s\n' \
			"$t" "$(($(date +%s) - start))" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
		pass=$((pass + 1))
	else
		input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n1)
		grep -E 'ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|runtime error|invariant failed|SUMMARY' "$log" | head -n 5
		printf 'fuzz: %-12s CRASH (exit %s) after %ss; input: %s; log: %s\n' \
			"$t" "$rc" "$(($(date +%s) - start))" "${input:-none written}" "$log"
		echo "      reproduce: $build/fuzz_$t ${input:-INPUT}; keep it: cp it to fuzz/regressions/$t/NAME"
		fail=$((fail + 1))
	fi
done
counts "$pass" "$fail" 0
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
