# SPDX-License-Identifier: GPL-2.0-only
#
# Option parsing shared by bench/xdp/run.sh and bench/dpdk/run.sh (sourced),
# and the build variants of bench/xdp/cost.sh and bench/endpoints/cost.sh.
# The script sets its defaults and USAGE_LINES (the range of its header
# comment that is the usage text), then loops:
#   bench_opt "$@"; [ "$BENCH_SHIFT" -gt 0 ] && { shift "$BENCH_SHIFT"; continue; }
# and handles its own options after that.

die() { echo "error: $*" >&2; exit 1; }
usage() { sed -n "${USAGE_LINES}p" "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
isnum() { [[ $1 =~ ^[0-9]+$ ]]; }

# bench_range OPT VALUE MIN MAX: VALUE is an integer in MIN..MAX, or die.
bench_range() {
	isnum "$2" && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] ||
		die "$1 '$2': expected $3..$4"
}

# bench_cpu OPT VALUE: VALUE names a CPU of this machine, or die.
bench_cpu() {
	isnum "$2" || die "$1 '$2': not a CPU number"
	[ -d "/sys/devices/system/cpu/cpu$2" ] || die "$1 $2: no CPU $2 on this machine"
}

# bench_opt ARGS...: one option both benchmarks take. Sets SECONDS_RUN,
# REPS, OUT, NBE, GEN_CPU, FIFO or BUILD, and BENCH_SHIFT to the number of
# words used (0: not one of these).
bench_opt() {
	BENCH_SHIFT=2
	case $1 in
	--seconds) bench_range "$1" "${2:-}" 1 600; SECONDS_RUN=$2 ;;
	--reps) bench_range "$1" "${2:-}" 1 100; REPS=$2 ;;
	--out) [ -n "${2:-}" ] || die "--out needs a directory"; OUT=$2 ;;
	--backends) bench_range "$1" "${2:-}" 1 64; NBE=$2 ;;
	--gen-cpu) bench_cpu "$1" "${2:-}"; GEN_CPU=$2 ;;
	--no-fifo) FIFO=0; BENCH_SHIFT=1 ;;
	--no-build) BUILD=0; BENCH_SHIFT=1 ;;
	-h|--help) usage 0 ;;
	*) BENCH_SHIFT=0 ;;
	esac
}

# bench_tools TOOL...: every TOOL is on PATH, or die.
bench_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || die "tool '$t' not found"
	done
}

# bench_variants DIR: the NAME=CRABCTL arguments in VARIANTS (default
# "cur", this tree's crabctl) checked and copied to DIR/crabctl-NAME (a
# rebuild during the run changes nothing); sets NAMES, in the given order.
bench_variants() {
	local v name bin
	[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=("cur=$TOP/build/userspace/userspace/crabctl/crabctl")
	NAMES=()
	for v in "${VARIANTS[@]}"; do
		name=${v%%=*} bin=${v#*=}
		[[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || die "variant name '$name': letters, digits, . _ - only"
		[ -x "$bin" ] || die "variant $name: '$bin' is not an executable"
		cp "$bin" "$1/crabctl-$name" || die "cannot copy $bin"
		NAMES+=("$name")
	done
}

# bench_order ROUND: NAMES in ORDER, reversed in every even round (so that
# no variant always runs first).
bench_order() {
	local i
	ORDER=("${NAMES[@]}")
	if [ $(($1 % 2)) = 0 ]; then
		ORDER=()
		for ((i = ${#NAMES[@]} - 1; i >= 0; i--)); do ORDER+=("${NAMES[i]}"); done
	fi
}
