#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# crabctl's help, bash completion and man page stay in sync: walk every
# subcommand `crabctl ... --help` lists; the completion (sourced, driven
# through COMP_WORDS like bash does) offers exactly those subcommands and
# every option at each level, and the man page names every command path and
# every long option. No root needed.
source "$(dirname "$0")/../lib.sh"

crab_require_built "$CRABCTL" crabctl
SRC=$CRAB_TOP/userspace/crabctl
COMPL=$SRC/crabctl.bash-completion
MAN=$SRC/crabctl.8
[ -f "$COMPL" ] && [ -f "$MAN" ] || crab_fail "missing $COMPL or $MAN"

# shellcheck disable=SC1090
source "$COMPL"
# The man page as text: roff escapes for '-' and fonts removed.
MANTXT=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$MAN")

# Subcommands / options of one --help text ($1).
help_subs() {
	awk '/^Subcommands:/ {f=1; next} f && /^  [a-z]/ {print $1} f && /^$/ {f=0}' <<<"$1" | sort
}
help_opts() {
	awk '/^Options:/ {f=1; next} f && /^  -/ {print $1} f && /^$/ {f=0}' <<<"$1" | tr ',' '\n' | grep . | sort -u
}
# What the completion offers after "crabctl PATH... " for the word $cur.
complete_at() {
	local cur=$1; shift
	COMP_WORDS=(crabctl "$@" "$cur")
	COMP_CWORD=$(($# + 1))
	COMPREPLY=()
	_crabctl
	printf '%s\n' "${COMPREPLY[@]}" | grep . | sort
}

bad_compl=() paths=0 all_paths=() declare -A all_opts=()
walk() {
	local s subs opts o help
	paths=$((paths + 1))
	help=$("$CRABCTL" "$@" --help 2>/dev/null)
	subs=$(help_subs "$help")
	opts=$(help_opts "$help")
	[ "$(complete_at "" "$@")" = "$subs" ] || bad_compl+=("'$*' subcommands")
	[ "$(complete_at "-" "$@")" = "$opts" ] || bad_compl+=("'$*' options")
	[ $# -gt 0 ] && all_paths+=("$*")
	for o in $opts; do
		[[ $o == --* ]] && all_opts[$o]=1
	done
	for s in $subs; do walk "$@" "$s"; done
}
walk

crab_log "$paths command paths checked"
[ ${#bad_compl[@]} -eq 0 ] || crab_log "completion differs from --help: ${bad_compl[*]}"
[ $paths -gt 50 ] && [ ${#bad_compl[@]} -eq 0 ]
log_test $? "bash completion offers every subcommand and option --help lists"

# Man page: every path on a line naming crabctl and each of its words
# ("a|b" alternatives count); every long option somewhere.
man_check() {
	python3 - "$1" "$MANFILE" <<'PY'
import re, sys
text = open(sys.argv[2]).read()
lines = [set(re.split(r"[\s|\[\]{}]+", l)) for l in text.splitlines() if "crabctl" in l]
bad = []
for item in sys.argv[1].split("\n"):
    if not item:
        continue
    if item.startswith("--"):
        if not re.search(re.escape(item) + r"(?![\w-])", text):
            bad.append(item)
    elif not any(set(item.split()) <= l for l in lines):
        bad.append("'" + item + "'")
print(" ".join(bad))
PY
}
MANFILE=$(mktemp)
crab_defer "rm -f $MANFILE"
printf '%s\n' "$MANTXT" >"$MANFILE"
miss=$(man_check "$(printf '%s\n' "${all_paths[@]}")")
[ -z "$miss" ] || crab_log "not in the man page: $miss"
[ ${#all_paths[@]} -gt 50 ] && [ -z "$miss" ]
log_test $? "man page names every command path (${#all_paths[@]})"
miss=$(man_check "$(printf '%s\n' "${!all_opts[@]}")")
[ -z "$miss" ] || crab_log "options not in the man page: $miss"
[ ${#all_opts[@]} -gt 30 ] && [ -z "$miss" ]
log_test $? "man page names every long option (${#all_opts[@]})"

# completion of option values
[ "$(complete_at "" apply --lb | tr '\n' ' ')" = "dpdk nf xdp " ]
log_test $? "completion: --lb values"
[ "$(complete_at "w" lb xdp service add --policy | tr '\n' ' ')" = "wrr " ]
log_test $? "completion: --policy values"
# a valued option's argument is not taken for a subcommand
[ "$(complete_at "" lb dpdk --prefix service | tr '\n' ' ')" = "backend service show stats " ]
log_test $? "completion: the value of --prefix is skipped"

# the man page renders without warnings
if command -v groff >/dev/null; then
	out=$(groff -man -Tutf8 -ww -z "$MAN" 2>&1)
	[ -z "$out" ] || crab_log "$out"
	[ -z "$out" ]
	log_test $? "man page renders without groff warnings"
fi

crab_exit
