#!/usr/bin/env bash
# Interop and load: SIPp (a real peer) sends OPTIONS to "demo ua", which
# answers through our transport, transaction and dialog layers; one call is one
# OPTIONS transaction that must get a 200 with Allow and a To tag
# (sipp/options_uac.xml). A UDP pass, then a short TCP pass.
#
# CI defaults finish in seconds. Override for a load run, e.g.
#   CALLS=200000 RATE=60000 LIMIT=5000 TCP_CALLS=0 bash .ci/interop/sipp_options.sh
#
#   CALLS      OPTIONS over UDP (default 2000)
#   RATE       calls per second SIPp starts (default 1000)
#   LIMIT      most calls open at once, SIPp -l (default 1000)
#   TCP_CALLS  OPTIONS over TCP, at the same rate; 0 skips the pass (default 500)
#   TIMEOUT    seconds each SIPp run may take before it fails (default 60)
#   SIPP_OPTS  extra SIPp options (e.g. "-max_recv_loops 10000")
#
# Everything stays on 127.0.0.1; every process started here is killed by
# PID and the temporary directory removed on exit, failure included.
set -euo pipefail
. "$(dirname "$0")/lib.bash"
cd "$(dirname "$0")/../.."

CALLS=${CALLS:-2000}
RATE=${RATE:-1000}
LIMIT=${LIMIT:-1000}
TCP_CALLS=${TCP_CALLS:-500}
TIMEOUT=${TIMEOUT:-60}
SIPP_OPTS=${SIPP_OPTS:-}
scenario=$PWD/.ci/interop/sipp/options_uac.xml

need_peer sipp sip-tester

tmp=$(mktemp -d)
trap sipp_cleanup EXIT
trap 'exit 1' INT TERM

# children_cpu: sets cpu to the user+system seconds of the children this
# shell has waited for (second line of the builtin times, which must run in
# this shell, not in a $(...) subshell), to tell what SIPp used.
children_cpu() {
	times >"$tmp/times"
	cpu=$(tail -n 1 "$tmp/times" | awk '{
		t = 0
		for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); t += p[1] * 60 + p[2] }
		print t }')
}

# ua_cpu: user+system seconds the running UA has used so far.
ua_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$ua_pid/stat" 2>/dev/null || echo 0
}

# rcvbuf_drops: UDP datagrams the kernel dropped for a full socket receive
# buffer, machine-wide (Linux /proc/net/snmp RcvbufErrors; 0 elsewhere).
rcvbuf_drops() {
	awk '/^Udp:/ { if (!col) { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors") col = i } else v = $col }
		END { print v + 0 }' /proc/net/snmp 2>/dev/null || echo 0
}

# ua_socket_drops PORT: datagrams dropped for a full receive buffer at the
# UA's UDP sockets on 127.0.0.1:PORT (the drops column of /proc/net/udp),
# summed over the sockets of "-udp-readers N".
ua_socket_drops() {
	awk -v a="$(printf '0100007F:%04X' "$1")" '$2 == a { n += $NF } END { print n + 0 }' \
		/proc/net/udp 2>/dev/null || echo 0
}

# ua_rss: the running UA's peak resident set size in MiB (Linux VmHWM).
ua_rss() {
	awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$ua_pid/status" 2>/dev/null || echo 0
}

# start_ua PROTO: our UA over PROTO, bounded by -duration whatever happens.
start_ua() {
	run_demo ua ua -transport "$1" -duration "$((TIMEOUT + 60))s"
}

# pass NAME UA_PROTO SIPP_TRANSPORT N: one SIPp run of N calls, checked.
pass() {
	local name=$1 proto=$2 sipp_t=$3 n=$4
	echo "-- $name: $n OPTIONS at $RATE/s, at most $LIMIT open"
	start_ua "$proto"

	local start end rc cpu0 sipp_cpu ua_used ua_mem drops0 drops ua_drops=0
	children_cpu
	cpu0=$cpu
	drops0=$(rcvbuf_drops)
	start=$(date +%s.%N)
	# shellcheck disable=SC2086 # SIPP_OPTS is a list of options
	sipp_run "$name" -sf "$scenario" -s bob -t "$sipp_t" -m "$n" -r "$RATE" -rp 1000 -l "$LIMIT" \
		$SIPP_OPTS "127.0.0.1:$ua_port"
	rc=$sipp_rc
	end=$(date +%s.%N)
	children_cpu
	sipp_cpu=$(awk -v a="$cpu0" -v b="$cpu" 'BEGIN { print b - a }')
	ua_used=$(ua_cpu)
	ua_mem=$(ua_rss)
	drops=$(($(rcvbuf_drops) - drops0))
	[ "$proto" = udp ] && ua_drops=$(ua_socket_drops "$ua_port")
	stop_demo ua

	grep -E '^ *(Successful call|Failed call)|OPTIONS -|200 <-' "$tmp/$name.screen" || true
	local total ok failed retrans sipp_rate answered
	sipp_result "$name" "$name" "$rc"
	ok=$sipp_ok failed=$sipp_failed retrans=$sipp_retrans
	total=$(csv_field "$tmp/$name.csv" TotalCallCreated)
	sipp_rate=$(csv_field "$tmp/$name.csv" 'CallRate(C)')
	answered=$(json_field answered "$tmp/ua.out")
	awk -v n="$ok" -v s="$start" -v e="$end" -v r="$sipp_rate" -v c="$total" -v f="$failed" -v x="$retrans" 'BEGIN {
		printf "calls %d, successful %d, failed %d, retransmissions %d, elapsed %.2f s, achieved %.0f calls/s (SIPp CallRate(C) %s)\n",
			c, n, f, x, e - s, n / (e - s), r }'
	awk -v u="$ua_used" -v p="$sipp_cpu" -v s="$start" -v e="$end" -v m="$ua_mem" 'BEGIN {
		printf "cpu: ua %.2f s (%.0f%% of one core), SIPp %.2f s (%.0f%%), %d cores; ua peak RSS %d MiB\n",
			u, 100 * u / (e - s), p, 100 * p / (e - s), '"$(nproc)"', m }'
	echo "kernel: UDP datagrams dropped for a full receive buffer: $ua_drops at the UA's socket, $drops machine-wide"
	echo "ua: $(demo_stats ua)"

	sipp_verdict "$name" "$name" "$rc" "$n" "$tmp/ua.err"
	# The UA counts the final responses it sends ("answered"): one per
	# OPTIONS, plus one per retransmitted OPTIONS that the transaction
	# layer answers again from its Completed state (RFC 3261 §17.2.2), and
	# never more: the dialog UA answers each request once.
	[ "$answered" -ge "$n" ] && [ "$((answered - n))" -le "$retrans" ] ||
		fail "$name: the UA sent $answered final responses, want $n plus at most $retrans (SIPp's retransmissions)"
	demo_fields "$name" ua send_errors=0 parse_errors=0 invalid=0 rejected=0
}

go build -o "$tmp/demo" ./cmd/demo
pass udp udp u1 "$CALLS"
if [ "$TCP_CALLS" -gt 0 ]; then
	pass tcp tcp t1 "$TCP_CALLS"
fi
echo "sipp_options: ok"
