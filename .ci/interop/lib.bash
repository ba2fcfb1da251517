# Helpers shared by the interop scripts; sourced, never run (.ci/run runs
# the *.sh files only), so that each script reads as its scenario. A script
# sets tmp before calling the helpers that read its files. In order: output
# and ports; "demo" processes; getting a peer (need_peer, build_demo); SIPp
# runs (sipp_*.sh); Kamailio by PID; cases run one per child process
# (baresip.sh, linphone.sh).

# self is the script's name without .sh, for messages.
self=${0##*/}
self=${self%.sh}

# fail prints why the script fails and exits 1 (cleanup runs on EXIT).
fail() {
	echo "$self: $*" >&2
	exit 1
}

# json_field NAME [FILE]: the number NAME of the last stats event "demo ua"
# or "demo events" printed to FILE (default $tmp/ua.out).
json_field() {
	grep '"event":"stats"' "${2:-$tmp/ua.out}" | tail -n 1 | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}

# csv_field FILE NAME: column NAME of the last line of a SIPp statistics
# file (-trace_stat); fails if there is no such column.
csv_field() {
	awk -F';' -v name="$2" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) col = i; next }
		{ last = $col }
		END { if (!col) exit 1; print last }' "$1"
}

# udp_bound PORT: whether a UDP socket is bound to 127.0.0.1:PORT.
udp_bound() {
	grep -q "$(printf ' 0100007F:%04X ' "$1")" /proc/net/udp
}

# tcp_listening PORT: whether a TCP socket listens on 127.0.0.1:PORT.
tcp_listening() {
	grep -q "$(printf ' 0100007F:%04X 00000000:0000 0A ' "$1")" /proc/net/tcp
}

# bound PROTO PORT: udp_bound PORT for udp, tcp_listening PORT for tcp.
bound() {
	if [ "$1" = udp ]; then udp_bound "$2"; else tcp_listening "$2"; fi
}

# free_port sets port to a UDP port of 127.0.0.1 nothing is bound to.
free_port() {
	for _ in $(seq 20); do
		port=$((20000 + RANDOM % 10000))
		udp_bound "$port" || return 0
	done
	fail "no free UDP port found"
}

# run_demo WHO CMD ARGS...: runs "$tmp/demo" CMD (ua, events) on a free
# port of 127.0.0.1 with ARGS, output in $tmp/WHO.out and $tmp/WHO.err, and
# sets WHO_pid and WHO_port once it has printed its listening event (at
# most 10 s). The caller kills WHO_pid, or waits for it with wait_demo.
run_demo() {
	local who=$1 cmd=$2 pid
	shift 2
	: >"$tmp/$who.out" # made first: the loop below reads it
	"$tmp/demo" "$cmd" -listen 127.0.0.1:0 "$@" >"$tmp/$who.out" 2>"$tmp/$who.err" &
	pid=$!
	printf -v "${who}_pid" %s "$pid"
	printf -v "${who}_port" %s ""
	await_listening "$pid" "$tmp/$who.out" "$tmp/$who.err" "$who"
	printf -v "${who}_port" %s "$listen_port"
}

# start_demo WHO ARGS...: run_demo WHO ua, with WHO as its -user.
start_demo() {
	local who=$1
	shift
	run_demo "$who" ua -user "$who" "$@"
}

# wait_demo WHO SECONDS: waits at most SECONDS for demo WHO to exit by
# itself (fails the script if it does not); sets WHO_rc to its status and
# empties WHO_pid, which the cleanup must no longer kill.
wait_demo() {
	local pidvar="${1}_pid" i rc=0
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "${!pidvar}" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "${!pidvar}" 2>/dev/null; then
		tail -n 20 "$tmp/$1.err" >&2
		fail "$1 did not exit within $2 s"
	fi
	wait "${!pidvar}" || rc=$?
	printf -v "${1}_rc" %s "$rc"
	printf -v "$pidvar" %s ""
}

# stop_demo WHO: SIGTERM, then at most 10 s for demo WHO to write its stats
# and exit, with status 0 (it has nothing left that failed).
stop_demo() {
	local pidvar="${1}_pid" rcvar="${1}_rc"
	kill -0 "${!pidvar}" 2>/dev/null || { tail -n 20 "$tmp/$1.err" >&2; fail "$1 died during the run"; }
	kill -TERM "${!pidvar}"
	wait_demo "$1" 10
	[ "${!rcvar}" = 0 ] || { tail -n 20 "$tmp/$1.err" >&2; fail "$1 exited with status ${!rcvar}"; }
}

# demo_stats WHO: demo WHO's stats event, or "no stats".
demo_stats() {
	grep '"event":"stats"' "$tmp/$1.out" || echo 'no stats'
}

# count_events WHO REGEX: how many event lines of demo WHO match REGEX.
count_events() {
	grep -c -- "$2" "$tmp/$1.out" || true
}

# demo_fields WHAT WHO FIELD=VALUE...: fails as WHAT, with the end of WHO's
# standard error, unless demo WHO's stats hold each VALUE; a VALUE >=N
# wants at least N.
demo_fields() {
	local what=$1 who=$2 kv field want got
	shift 2
	for kv in "$@"; do
		field=${kv%%=*}
		want=${kv#*=}
		got=$(json_field "$field" "$tmp/$who.out")
		case $want in
		">="*) [ -n "$got" ] && [ "$got" -ge "${want#>=}" ] && continue ;;
		*) [ "$got" = "$want" ] && continue ;;
		esac
		tail -n 20 "$tmp/$who.err" >&2
		fail "$what: $who $field is ${got:-missing}, want $want"
	done
}

# kill_jobs: SIGKILL to every background process of this shell not yet
# waited for, and to its children (SIPp under timeout), for a script's
# EXIT trap. Only un-reaped children: a PID reaped by wait may be reused.
kill_jobs() {
	# shellcheck disable=SC2046 # a list of PIDs
	kill_tree $(jobs -p)
}

# await_listening PID OUT ERR WHO: waits up to 10 s for "demo" process PID
# to print its listening event on 127.0.0.1 to file OUT, and sets
# listen_port; fails the script (with ERR's content) if it exits first or
# does not listen in time.
await_listening() {
	local i
	for ((i = 0; i < 100; i++)); do
		listen_port=$(sed -n 's/.*"event":"listening".*"addr":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$2")
		[ -n "$listen_port" ] && return 0
		kill -0 "$1" 2>/dev/null || { cat "$3" >&2; fail "$4 exited before listening"; }
		sleep 0.1
	done
	cat "$3" >&2
	fail "$4 did not listen within 10 s"
}

# wait_exit PID SECONDS: waits for PID, a child, to exit by itself; returns
# its status, or fails the script after SECONDS.
wait_exit() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$1" 2>/dev/null && fail "process $1 did not exit within $2 s"
	local rc=0
	wait "$1" || rc=$?
	return "$rc"
}

# await_bound PID PROTO PORT: waits up to 5 s for process PID to bind
# PORT of 127.0.0.1 (bound PROTO PORT). If it does not (it exited, or the
# port was taken), it is killed and reaped, and await_bound returns 1.
await_bound() {
	for _ in $(seq 50); do
		bound "$2" "$3" && break
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$1" 2>/dev/null && bound "$2" "$3"; then
		return 0
	fi
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	return 1
}

# since START: seconds elapsed since START (date +%s.%N), one decimal.
since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

# skip_or_fail MESSAGE: a peer that cannot be had skips the script outside
# CI (a SKIP line, exit 0) and fails it in CI.
skip_or_fail() {
	[ "${CI:-}" = true ] && fail "$*"
	echo "$self: SKIP: $*"
	exit 0
}

# need_peer COMMAND PACKAGE [COMMAND PACKAGE]...: makes sure each COMMAND
# is on PATH, installing the Debian PACKAGEs of those that are not with one
# apt-get run (skip_or_fail if it cannot).
need_peer() {
	local log pairs=("$@") missing=() packages=() i
	for ((i = 0; i + 1 < ${#pairs[@]}; i += 2)); do
		command -v "${pairs[i]}" >/dev/null && continue
		missing+=("${pairs[i]}")
		packages+=("${pairs[i + 1]}")
	done
	[ ${#missing[@]} = 0 ] && return 0
	command -v apt-get >/dev/null || skip_or_fail "${missing[*]} is not installed and there is no apt-get"
	echo "$self: installing ${packages[*]} with apt-get"
	log=$(mktemp)
	if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"; } >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		rm -f "$log"
		skip_or_fail "apt-get could not install ${packages[*]}"
	fi
	rm -f "$log"
	for i in "${missing[@]}"; do
		command -v "$i" >/dev/null || skip_or_fail "$i is not on PATH after installing ${packages[*]}"
	done
}

# build_demo FILE: the demo binary at FILE: a copy of $DEMO when set, else
# built from ./cmd/demo (run from the repository's root).
build_demo() {
	if [ -n "${DEMO:-}" ]; then
		cp "$DEMO" "$1"
	else
		go build -o "$1" ./cmd/demo
	fi
}

# ----------------------------------------------------------------------
# SIPp, each run in the background under timeout, from $tmp, its files
# there named after the run: NAME.out (its output), NAME.csv (statistics),
# NAME.screen (its screen at exit) and NAME.errors. Scenarios are given by
# absolute path, the working directory being $tmp.

# sipp_start NAME ARGS...: runs sipp with ARGS and the options every run
# shares: loopback only (SIP, media and the control socket), bounded by
# TIMEOUT seconds (-timeout_error: then it fails) and, should that not end
# it, by timeout 30 s later; no keyboard; statistics every second, screen
# and errors to NAME's files, which are removed first so that a run never
# reads an earlier one's. From $tmp: a SIPp that stops at start-up writes
# files named after itself into its working directory. Sets sipp_pid.
sipp_start() {
	local name=$1
	shift
	rm -f "$tmp/$name.csv" "$tmp/$name.screen" "$tmp/$name.errors"
	(cd "$tmp" && exec timeout -k 5 "$((TIMEOUT + 30))" sipp \
		-i 127.0.0.1 -bind_local -ci 127.0.0.1 -mi 127.0.0.1 \
		-timeout "${TIMEOUT}s" -timeout_error -nostdin \
		-trace_stat -stf "$tmp/$name.csv" -fd 1 \
		-trace_screen -screen_file "$tmp/$name.screen" \
		-trace_err -error_file "$tmp/$name.errors" \
		"$@" </dev/null >"$tmp/$name.out" 2>&1) &
	sipp_pid=$!
}

# sipp_run NAME ARGS...: sipp_start, then waits for SIPp (a client: it
# exits after its -m calls) and sets sipp_rc to its exit status.
sipp_run() {
	sipp_start "$@"
	sipp_rc=0
	wait "$sipp_pid" || sipp_rc=$?
	sipp_pid=
}

# sipp_listen NAME PROTO ARGS...: sipp_start with ARGS on a free port of
# 127.0.0.1 (SIPp needs its port given: a few random tries), and sets
# sipp_port once SIPp has bound it (PROTO udp or tcp). Fails the script if
# it cannot.
sipp_listen() {
	local name=$1 proto=$2
	shift 2
	for _ in 1 2 3 4 5; do
		free_port
		bound "$proto" "$port" && continue
		sipp_start "$name" -p "$port" "$@"
		if await_bound "$sipp_pid" "$proto" "$port"; then
			sipp_port=$port
			return 0
		fi
		sipp_pid=
	done
	tail -n 5 "$tmp/$name.out" >&2
	fail "$name: SIPp could not listen"
}

# sipp_stats NAME: sets sipp_ok, sipp_failed and sipp_retrans to the last
# SuccessfulCall(C), FailedCall(C) and Retransmissions(C) of SIPp run NAME;
# all three 0, and returns 1, if it wrote no statistics.
sipp_stats() {
	sipp_ok=0 sipp_failed=0 sipp_retrans=0
	[ -s "$tmp/$1.csv" ] || return 1
	sipp_ok=$(csv_field "$tmp/$1.csv" 'SuccessfulCall(C)')
	sipp_failed=$(csv_field "$tmp/$1.csv" 'FailedCall(C)')
	sipp_retrans=$(csv_field "$tmp/$1.csv" 'Retransmissions(C)')
}

# sipp_result WHAT NAME RC: sipp_stats NAME, failing as WHAT, with the end
# of SIPp's output, if the run (exit status RC) wrote no statistics.
sipp_result() {
	sipp_stats "$2" && return 0
	tail -n 20 "$tmp/$2.out" >&2
	fail "$1: SIPp wrote no statistics (exit $3)"
}

# sipp_summary RC: the counts sipp_stats read, and exit status RC, as the
# scripts print them.
sipp_summary() {
	echo "$sipp_ok successful, $sipp_failed failed, $sipp_retrans retransmissions, exit $1"
}

# sipp_verdict WHAT NAME RC N [LOG...]: fails as WHAT unless SIPp run NAME
# exited (RC) 0 with N successful calls and none failed (as sipp_stats
# read); shows SIPp's errors and the end of each LOG first.
sipp_verdict() {
	local what=$1 name=$2 rc=$3 n=$4 f
	shift 4
	[ "$rc" = 0 ] && [ "$sipp_failed" = 0 ] && [ "$sipp_ok" = "$n" ] && return 0
	if [ -s "$tmp/$name.errors" ]; then
		{
			head -c 3000 "$tmp/$name.errors"
			echo
		} >&2
	fi
	for f in "$@"; do
		if [ -e "$f" ]; then tail -n 20 "$f" >&2; fi
	done
	fail "$what: SIPp exit $rc, $sipp_ok of $n calls successful, $sipp_failed failed"
}

# sipp_cleanup: the EXIT trap of a SIPp script: kill_jobs, then removes
# $tmp, unless KEEP is set (then says where it is).
sipp_cleanup() {
	kill_jobs
	if [ -n "${KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}

# ----------------------------------------------------------------------
# Kamailio, run in the foreground by PID, its files in $tmp.

# kamailio_config NAME PORT [KEY=VALUE...] <TEMPLATE: writes $tmp/NAME.cfg
# from the configuration on standard input, with @PORT@ replaced by PORT
# and each @KEY@ by VALUE. A quoted here-document keeps Kamailio's $ as is.
kamailio_config() {
	local cfg kv
	cfg=$(cat)
	cfg=${cfg//"@PORT@"/"$2"}
	for kv in "${@:3}"; do
		cfg=${cfg//"@${kv%%=*}@"/"${kv#*=}"}
	done
	printf '%s\n' "$cfg" >"$tmp/$1.cfg"
}

# kamailio_start NAME PORT [OPTIONS...]: checks $tmp/NAME.cfg, then runs
# Kamailio with it in the foreground (-DD -E, log in $tmp/NAME.log) with
# OPTIONS (default "-m 32 -M 4": shared and private memory in MB), and sets
# NAME_pid. Returns once it has bound UDP PORT of 127.0.0.1 (at most 10 s);
# fails the script, with the log's tail, if it exits or does not bind.
kamailio_start() {
	local name=$1 port=$2 pid i
	shift 2
	[ $# -gt 0 ] || set -- -m 32 -M 4
	kamailio -c -f "$tmp/$name.cfg" >"$tmp/$name.check" 2>&1 ||
		{ cat "$tmp/$name.check" >&2; fail "kamailio rejects its configuration"; }
	kamailio -f "$tmp/$name.cfg" -DD -E -Y "$tmp" "$@" >"$tmp/$name.log" 2>&1 &
	pid=$!
	printf -v "${name}_pid" %s "$pid"
	for ((i = 0; i < 100; i++)); do
		udp_bound "$port" && return 0
		kill -0 "$pid" 2>/dev/null || { tail -n 20 "$tmp/$name.log" >&2; fail "kamailio exited at start-up"; }
		sleep 0.1
	done
	tail -n 20 "$tmp/$name.log" >&2
	fail "kamailio did not listen within 10 s"
}

# kamailio_stop NAME: SIGTERM to Kamailio NAME's main process, which stops
# its workers; waits for it and empties NAME_pid.
kamailio_stop() {
	local pidvar="${1}_pid"
	[ -n "${!pidvar}" ] || return 0
	kill -TERM "${!pidvar}" 2>/dev/null || true
	wait "${!pidvar}" 2>/dev/null || true
	printf -v "$pidvar" %s ""
}

# kill_tree PID...: SIGKILL to each PID and to its children (a Kamailio's
# workers), for the cleanup on exit; empty PIDs are ignored.
kill_tree() {
	local pid
	for pid in "$@"; do
		[ -n "$pid" ] || continue
		pkill -KILL -P "$pid" 2>/dev/null || true
		kill -KILL "$pid" 2>/dev/null || true
	done
}

# ----------------------------------------------------------------------
# Cases run one per child process ("SCRIPT --case NAME DIR", as baresip.sh
# and linphone.sh do): the driver runs each under timeout with case_run;
# the case keeps its files in DIR, writes why it failed to DIR/reason, and
# has every process it starts killed by PID when it ends.

# case_run DIR CMD...: the driver's side: runs the case CMD under timeout
# (CASE_TIMEOUT seconds, then 3 more before SIGKILL), output in DIR/case.log;
# sets case_rc and case_reason (DIR/reason, or the timeout). What a case
# cut short left running is killed by PID: each PID in DIR/pids whose
# command line names DIR. case_pid is the running case, for the cleanup.
case_run() {
	local dir=$1 pid
	shift
	case_rc=0
	timeout -k 3 "$CASE_TIMEOUT" "$@" >"$dir/case.log" 2>&1 &
	case_pid=$!
	wait "$case_pid" || case_rc=$?
	case_pid=
	for pid in $(cat "$dir/pids" 2>/dev/null); do
		if tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "$dir/"; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	case_reason=$(cat "$dir/reason" 2>/dev/null || true)
	if [ "$case_rc" = 124 ] || [ "$case_rc" = 137 ]; then
		case_reason="timed out after $CASE_TIMEOUT s${case_reason:+ ($case_reason)}"
	fi
}

# case_begin DIR: the case's side, first thing: DIR holds its files (tmp
# too, for start_demo); fail and any failing command write the reason to
# DIR/reason; on exit case_cleanup kills what it started.
case_begin() {
	dir=$1
	tmp=$1
	pids=()
	cap_pid=
	trap case_cleanup EXIT
	trap 'echo "killed (signal)" >"$dir/reason"; exit 1' INT TERM
	set -E
	trap 'echo "line $LINENO: $BASH_COMMAND: status $?" >"$dir/reason"' ERR
	fail() {
		echo "$*" >"$dir/reason"
		exit 1
	}
}

# case_cleanup: SIGKILL to every process started, then SIGINT to tshark,
# which then writes out what it captured (at most 3 s).
case_cleanup() {
	local pid i
	for pid in "${pids[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
		{ wait "$pid"; } 2>/dev/null || true
	done
	if [ -n "$cap_pid" ]; then
		kill -INT "$cap_pid" 2>/dev/null || true
		for ((i = 0; i < 30; i++)); do
			kill -0 "$cap_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$cap_pid" 2>/dev/null || true
	fi
}

# started PID: PID is killed when the case ends, and by case_run after it
# if a timeout cut the case's own cleanup short.
started() {
	pids+=("$1")
	echo "$1" >>"$dir/pids"
}

# capture PCAP FILTER: tshark captures lo (capture FILTER) to PCAP until
# the case ends; returns once it is capturing (at most 5 s).
capture() {
	tshark -i lo -w "$1" -f "$2" >/dev/null 2>"$dir/tshark.err" &
	cap_pid=$!
	echo "$cap_pid" >>"$dir/pids"
	wait_for "$dir/tshark.err" "^Capturing on" 5 || fail "tshark did not start: $(cat "$dir/tshark.err")"
}

# wait_for FILE REGEX SECONDS: whether a line of FILE matches the extended
# REGEX within SECONDS.
wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	grep -qE -- "$2" "$1" 2>/dev/null
}

# ua WHO ARGS...: start_demo, WHO's process killed when the case ends.
ua() {
	start_demo "$@"
	local pidvar="${1}_pid"
	started "${!pidvar}"
}

# ua_exit WHO SECONDS: waits for our UA WHO to exit by itself; sets WHO_rc.
ua_exit() {
	local pidvar="${1}_pid" rc=0
	wait_exit "${!pidvar}" "$2" || rc=$?
	printf -v "${1}_rc" %s "$rc"
}

# stop_ua WHO: SIGTERM, then at most 5 s for our UA WHO to hang up, write
# its stats and exit 0.
stop_ua() {
	local pidvar="${1}_pid" rcvar="${1}_rc"
	kill -0 "${!pidvar}" 2>/dev/null || fail "$1 (demo ua) died during the case: $(tail -n 3 "$dir/$1.err")"
	kill -TERM "${!pidvar}"
	ua_exit "$1" 5
	[ "${!rcvar}" = 0 ] || fail "$1 (demo ua) exited with status ${!rcvar}"
}

# ua_stat WHO FIELD: the number FIELD of our UA WHO's stats event.
ua_stat() { json_field "$2" "$dir/$1.out"; }

# expect WHO REGEX WHAT [SECONDS]: waits (default 10 s) for an event line
# of our UA WHO matching REGEX; fails naming WHAT.
expect() {
	wait_for "$dir/$1.out" "$2" "${4:-10}" || fail "$1: no $3 within ${4:-10} s"
}

# no_event WHO REGEX WHAT: our UA WHO wrote no event line matching REGEX.
no_event() {
	if grep -E -- "$2" "$dir/$1.out"; then
		fail "$1: unexpected $3"
	fi
}

# clean_stats WHO...: each UA exited with no dialog left and no transport
# error (but parse errors for the UA parse_errors_ok names); prints its
# stats.
clean_stats() {
	local who f v
	for who in "$@"; do
		for f in dialogs send_errors parse_errors invalid; do
			[ "$f" = parse_errors ] && [ "$who" = "${parse_errors_ok:-}" ] && continue
			v=$(ua_stat "$who" "$f")
			[ "$v" = 0 ] || fail "$who: $f at exit is ${v:-missing}, not 0"
		done
		echo "$who: $(grep '"event":"stats"' "$dir/$who.out")"
	done
}
