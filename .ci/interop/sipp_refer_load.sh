#!/usr/bin/env bash
# Load: call transfers with REFER (RFC 3515) against "demo ua" as the
# transferee, driven by SIPp on 127.0.0.1 (results in docs/LOAD.md, "REFER
# load"). A SIPp transferor (sipp/load_transferor.xml) calls our UA, REFERs
# it in the call's dialog to a second SIPp, the target
# (sipp/load_target.xml), expects 200 (RFC 7647 §5) and NOTIFYs with sipfrag
# "100 Trying" (active) then "200 OK" (terminated), answers them and hangs
# up; our UA calls the target, which answers and hangs up. One SIPp call is
# one complete transfer: INVITE/200/ACK, REFER/200, NOTIFY(100)/200,
# NOTIFY(200)/200, BYE/200 with the transferor, INVITE/200/ACK, BYE/200 with
# the target: 8 datagrams in and 8 out at our UA. The load_*.xml scenarios
# are the refer_*.xml ones of sipp_refer.sh, made to survive SIPp's own
# stalls.
#
# It prints one summary line: transfers completed, duration, transfers/s,
# failed calls (SIPp's: calls not successful; our UA's: counters not as
# expected), retransmissions (both SIPps' Retransmissions counters; and the
# datagrams the kernel dropped at each socket for a full buffer), our UA's
# RSS before, peak (VmHWM), at the end and after the idle wait, and its CPU
# time (/proc/PID/stat utime+stime) per transfer and that of each SIPp. It
# fails (exit 1) if a call or transfer failed or the memory check below
# fails.
#
# CI form (the defaults): 2,000 transfers at 500/s (4 s), then 34 s idle,
# under a minute in all:
#   bash .ci/interop/sipp_refer_load.sh
# Full form: 60 s of load at RATE (past the 32 s transactions live, so the
# UA's memory reaches its steady state), then the wait for the RSS to come
# back down (up to 7 minutes):
#   CALLS=$((60 * RATE)) RATE=1000 RSS_WAIT=420 bash .ci/interop/sipp_refer_load.sh
#
#   CALLS       transfers (SIPp calls) in all (default 2000)
#   RATE        transfers per second SIPp starts (default 500)
#   LIMIT       most SIPp calls open at once, -l (default 10000)
#   TIMEOUT     seconds the SIPp run may take before it fails (default 120)
#   IDLE        seconds the UA is left idle after the run before the RSS
#               "after" is read (default 34)
#   RSS_WAIT    then up to this many seconds more for the RSS to come back
#               within MARGIN_MIB of the RSS before (default 0: no wait)
#   MARGIN_MIB  see below (default 16)
#   SIPP_BUFF   both SIPps' socket buffers, -buff_size (default 4194304)
#   SIPP_T      the transferor's transport: u1 (one socket, default) or un
#               (one socket per call)
#   SIPP_OPTS   more options for both SIPps
#   UA_OPTS     more options for our UA, e.g. "-memprofile FILE" for what it
#               holds when stopped (IDLE=2: the transactions of the last
#               32 s), "-cpuprofile FILE", or "-udp-readers 2" (two sockets
#               on the UA's port, SO_REUSEPORT, each with its reader)
#   TRACE_MSG   if set, both SIPps log every message (-trace_msg)
#   KEEP        if set, the temporary directory (logs) is kept
#
# Memory. "before" is VmRSS 1 s after the UA printed that it listens. Over
# UDP every transaction of a transfer outlives its last message by up to
# 64*T1 = 32 s: Timer J of non-INVITE server transactions, Timer L of INVITE
# server ones, Timer M of INVITE client ones (RFC 3261 §17.2.2, RFC 6026
# §8.4, §8.7); non-INVITE client transactions end after Timer K (T4 = 5 s).
# After IDLE >= 34 s none may be left: the script checks that our UA's stats
# at exit count no transaction and no dialog. The RSS does not follow at
# once: the Go runtime gives memory back to the kernel only after a
# collection, an idle process collects only when forced, 2 minutes after the
# last collection (checked by sysmon, which sleeps up to a minute when
# idle), and its background scavenger then returns pages gradually. In
# measurements the RSS stayed at its peak for 3 to 5 minutes of idle, then
# fell within 2 minutes. So:
#   - RSS_WAIT > 0 (the full form): the RSS must come back within
#     MARGIN_MIB + 10% of (peak - before) of "before" within IDLE + RSS_WAIT
#     seconds. The 10% is what the runtime keeps for the peak, not for the
#     calls made: Go maps do not shrink, so the tables that held the peak's
#     transactions and dialogs stay, with the heap goal's headroom on top
#     (measured live heap after the forced collection: 5 MB after 10,000
#     transfers at 500/s, 7 MB after 40,000 at 500/s, 10 MB after 20,000 and
#     16 MB after 60,000 at 1,000/s: it follows the transfers alive at once,
#     not those made); a leak grows with the calls made instead. The last collection's live
#     heap is printed too (GODEBUG=gctrace=1 on the UA).
#   - RSS_WAIT = 0 (CI form): no collection has run yet, so the RSS after
#     idle is the RSS at the end of the run; the check is that the idle UA
#     did not grow (within MARGIN_MIB), with the transaction and dialog
#     counts above as the test that every transfer's state was released.
#
# Everything stays on 127.0.0.1; every process started here is killed by
# PID and the temporary directory removed on exit, failure included.
set -euo pipefail
. "$(dirname "$0")/lib.bash"
cd "$(dirname "$0")/../.."

CALLS=${CALLS:-2000}
RATE=${RATE:-500}
LIMIT=${LIMIT:-10000}
TIMEOUT=${TIMEOUT:-120}
IDLE=${IDLE:-34}
MARGIN_MIB=${MARGIN_MIB:-16}
RSS_WAIT=${RSS_WAIT:-0}
SIPP_OPTS=${SIPP_OPTS:-}
SIPP_BUFF=${SIPP_BUFF:-4194304}
SIPP_T=${SIPP_T:-u1}
scenarios=$PWD/.ci/interop/sipp

need_peer sipp sip-tester

tmp=$(mktemp -d)
trap sipp_cleanup EXIT
trap 'exit 1' INT TERM

# load_opts NAME: the options both SIPp runs add to lib.bash's: the message
# log only if asked (it would cost more than the load), socket buffers and
# SIPP_OPTS.
load_opts() {
	echo ${TRACE_MSG:+-trace_msg -message_file "$tmp/$1.msg"} -buff_size "$SIPP_BUFF" $SIPP_OPTS
}

# proc_cpu PID: user+system seconds process PID has used so far
# (/proc/PID/stat utime and stime); fails once it has gone.
proc_cpu() {
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null
}

# child_of PID: the process whose parent is PID (SIPp under timeout).
child_of() {
	[ -n "$1" ] || return 0
	local want=$1 f line
	for f in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null <"$f" || continue
		# The fields after the command name (which may hold spaces): state,
		# ppid, ...
		# shellcheck disable=SC2086 # split on purpose
		set -- ${line##*) }
		[ "${2:-}" = "$want" ] || continue
		line=${f#/proc/}
		echo "${line%/stat}"
		return 0
	done
}

# machine_cpu: busy and total seconds of all CPUs so far (/proc/stat: all
# but idle and iowait), to tell what other processes used during the run.
machine_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" {
		t = 0; for (i = 2; i <= NF; i++) t += $i
		print (t - $5 - $6) / hz, t / hz }' /proc/stat
}

# ua_cpu: user+system seconds the running UA has used so far
# (/proc/PID/stat utime and stime).
ua_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$ua_pid/stat"
}

# ua_mem FIELD: the running UA's FIELD of /proc/PID/status (VmRSS, VmHWM)
# in MiB, one decimal.
ua_mem() {
	[ -r "/proc/$ua_pid/status" ] || { tail -n 20 "$tmp/ua.err" >&2; fail "ua died"; }
	awk -v f="$1:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$ua_pid/status"
}

# socket_drops PORT: datagrams dropped for a full receive buffer at the
# UDP sockets on 127.0.0.1:PORT (the drops column of /proc/net/udp), summed
# over the sockets of "-udp-readers N" (N lines for one port).
socket_drops() {
	awk -v a="$(printf '0100007F:%04X' "$1")" '$2 == a { n += $NF } END { print n + 0 }' /proc/net/udp
}

# start_ua: our UA, bounded by -duration whatever happens, with UA_OPTS.
start_ua() {
	# shellcheck disable=SC2086 # UA_OPTS is split into options
	run_demo ua ua -duration "$((TIMEOUT + IDLE + RSS_WAIT + 60))s" ${UA_OPTS:-}
}

# start_target: runs the target SIPp on a free port for CALLS calls and
# sets target_pid and target_port once it is bound.
start_target() {
	# shellcheck disable=SC2046 # option list
	sipp_listen target udp -sf "$scenarios/load_target.xml" -m "$CALLS" $(load_opts target)
	target_pid=$sipp_pid
	target_port=$sipp_port
}

# sipp_counts NAME RC: reads the counters of SIPp run NAME (ok, failed,
# retrans) and adds to problems unless it exited 0 with CALLS successful
# calls and none failed; a call neither successful nor failed (still open
# at SIPp's timeout) counts as failed in sipp_failed.
sipp_counts() {
	local name=$1 rc=$2
	sipp_stats "$name" || true
	ok=$sipp_ok failed=$sipp_failed retrans=$sipp_retrans
	echo "SIPp $name: $(sipp_summary "$rc")"
	sipp_failed=$((sipp_failed + CALLS - ok))
	sipp_retrans=$((sipp_retrans + retrans))
	if [ "$rc" -ne 0 ] || [ "$failed" != 0 ] || [ "$ok" != "$CALLS" ]; then
		[ -s "$tmp/$name.errors" ] && { head -c 3000 "$tmp/$name.errors"; echo; } >&2
		[ -s "$tmp/$name.csv" ] || tail -n 20 "$tmp/$name.out" >&2
		problems="$problems; $name: SIPp exit $rc, $ok of $CALLS calls successful, $failed failed"
	fi
}

began=$(date +%s.%N)
go build -o "$tmp/demo" ./cmd/demo
echo "-- $CALLS transfers at $RATE/s, at most $LIMIT open, SIPp -t $SIPP_T -buff_size $SIPP_BUFF${SIPP_OPTS:+ $SIPP_OPTS}, idle $IDLE s"
start_target
# GODEBUG: the runtime writes a line per collection to the UA's standard
# error, with the live heap after it (reported below), and one per cycle of
# its scavenger (the memory it gives back to the kernel).
GODEBUG=${GODEBUG:+$GODEBUG,}gctrace=1,scavtrace=1 start_ua
free_port
transferor_port=$port
sleep 1
rss_before=$(ua_mem VmRSS)
ua_cpu0=$(ua_cpu)

# -t un opens a socket per call; SIPp refuses to start unless its socket
# limit is below the open files limit.
max_socket=
[ "$SIPP_T" = un ] && max_socket="-max_socket $(($(ulimit -n) - 100))"

start=$(date +%s.%N)
read -r busy0 total0 <<<"$(machine_cpu)"
rc=0
# shellcheck disable=SC2046,SC2086 # option lists
sipp_start transferor -sf "$scenarios/load_transferor.xml" -aa -s bob \
	-t "$SIPP_T" -p "$transferor_port" -m "$CALLS" -r "$RATE" -rp 1000 -l "$LIMIT" -key target_port "$target_port" \
	$(load_opts transferor) $max_socket "127.0.0.1:$ua_port"
# The CPU time of each SIPp, sampled every 0.2 s until the transferor exits
# (the target ends with its last BYE, a moment earlier).
transferor_sipp=
target_sipp=
cpu_transferor=0
cpu_target=0
while kill -0 "$sipp_pid" 2>/dev/null; do
	[ -n "$transferor_sipp" ] || transferor_sipp=$(child_of "$sipp_pid")
	[ -n "$target_sipp" ] || target_sipp=$(child_of "$target_pid")
	c=$(proc_cpu "$transferor_sipp") && cpu_transferor=$c
	c=$(proc_cpu "$target_sipp") && cpu_target=$c
	sleep 0.2
done
wait "$sipp_pid" || rc=$?
sipp_pid=
end=$(date +%s.%N)
read -r busy1 total1 <<<"$(machine_cpu)"
ua_cpu1=$(ua_cpu)
rss_end=$(ua_mem VmRSS)
rss_peak=$(ua_mem VmHWM)
drops="$(socket_drops "$ua_port")/$(socket_drops "$transferor_port")/$(socket_drops "$target_port")"
# The target has answered every INVITE by now; it ends with its last BYE
# (or its timeout, if a call is stuck).
target_rc=0
wait "$target_pid" || target_rc=$?
target_pid=

sleep "$IDLE"
rss_after=$(ua_mem VmRSS)
ua_cpu2=$(ua_cpu)
# RSS_WAIT: up to that many seconds more for the RSS to come back within
# MARGIN_MIB + 10% of (peak - before) of the RSS before (see the header),
# read every 5 s.
rss_back=
if [ "$RSS_WAIT" -gt 0 ]; then
	rss_limit=$(awk -v b="$rss_before" -v p="$rss_peak" -v m="$MARGIN_MIB" 'BEGIN { printf "%.1f", b + m + 0.1 * (p - b) }')
	trace="$IDLE s: $rss_after"
	waited=0
	while :; do
		rss_now=$(ua_mem VmRSS)
		if awk -v a="$rss_now" -v l="$rss_limit" 'BEGIN { exit !(a <= l) }'; then
			rss_back=$((IDLE + waited))
			break
		fi
		[ "$waited" -ge "$RSS_WAIT" ] && break
		sleep 5
		waited=$((waited + 5))
		[ $((waited % 30)) = 0 ] && trace="$trace, $((IDLE + waited)) s: $rss_now"
	done
	echo "ua RSS MiB while idle: $trace; $((IDLE + waited)) s: $rss_now"
fi
stop_demo ua
if [ "$RSS_WAIT" -gt 0 ]; then
	echo "ua runtime, last collections and scavenger cycles (times since the UA started, at $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", e - s + 1 }') s the run ended):"
	grep -E '^(gc [0-9]+ @|scav )' "$tmp/ua.err" | tail -n 6 || true
fi

problems=
sipp_failed=0
sipp_retrans=0
sipp_counts transferor "$rc"
transfers=$ok
sipp_counts target "$target_rc"
echo "ua: $(demo_stats ua)"
# The runtime's last collection: when (seconds since the UA started) and
# the live heap it left (the third of "A->B->C MB").
last_gc=$(grep '^gc [0-9]* @' "$tmp/ua.err" | tail -n 1 || true)
gc_at=$(echo "$last_gc" | sed -n 's/^gc [0-9]* @\([0-9.]*\)s.*/\1/p')
gc_live=$(echo "$last_gc" | sed -n 's/.*->\([0-9]*\) MB,.*/\1/p')

# Our UA's side: every REFER accepted, every referred call established,
# nothing failed or refused, no transport error, no dialog left; after
# IDLE >= 34 s every transaction has ended as well (see the header).
checks="calls_received=$CALLS calls_received_established=$CALLS calls_received_failed=0
	refers_received=$CALLS refers_accepted=$CALLS refers_declined=0 refers_refused=0
	referred_calls=$CALLS referred_calls_established=$CALLS referred_calls_failed=0
	send_errors=0 parse_errors=0 invalid=0 rejected=0 dialogs=0
	overloaded=0 dialogs_refused=0 subscriptions_refused=0"
[ "$IDLE" -ge 34 ] && checks="$checks transactions_client=0 transactions_server=0"
ua_failed=0
for kv in $checks; do
	field=${kv%%=*}
	got=$(json_field "$field")
	[ "$got" = "${kv#*=}" ] && continue
	echo "ua: $field is ${got:-missing}, want ${kv#*=}" >&2
	ua_failed=$((ua_failed + 1))
done
[ "$ua_failed" = 0 ] || problems="$problems; $ua_failed of our UA's counters wrong (above)"
ua_in=$(json_field received)
ua_out=$(json_field sent)

awk -v n="$transfers" -v s="$start" -v e="$end" -v sf="$sipp_failed" -v uf="$ua_failed" -v x="$sipp_retrans" \
	-v d="$drops" -v mi="${ua_in:-0}" -v mo="${ua_out:-0}" -v rb="$rss_before" -v rp="$rss_peak" -v re="$rss_end" \
	-v ra="$rss_after" -v idle="$IDLE" -v u0="$ua_cpu0" -v u1="$ua_cpu1" -v u2="$ua_cpu2" \
	-v ct="$cpu_transferor" -v cg="$cpu_target" -v rate="$RATE" -v ga="${gc_at:-0}" -v gl="${gc_live:-?}" \
	-v b0="$busy0" -v b1="$busy1" -v t0="$total0" -v t1="$total1" -v cores="$(nproc)" 'BEGIN {
	t = e - s
	# All CPUs busy, in % of one core, less the UA and both SIPps.
	others = 100 * cores * (b1 - b0) / (t1 - t0) - 100 * (u1 - u0 + ct + cg) / t
	printf "sipp_refer_load: %d transfers in %.2f s = %.0f/s (offered %d/s); failed: SIPp %d, ua %d; " \
		"retransmissions %d (socket drops ua/transferor/target %s; ua messages in/out per transfer %.2f/%.2f); " \
		"ua RSS MiB before %.1f, peak %.1f, end %.1f, after %d s idle %.1f (last GC at %.0f s, live heap %s MB); " \
		"ua CPU %.0f us/transfer (%.0f%% of a core; %.2f s idle); SIPp CPU transferor %.0f%%, target %.0f%%; " \
		"other processes %.0f%% (of %d cores)\n",
		n, t, n / t, rate, sf, uf, x, d, mi / (n ? n : 1), mo / (n ? n : 1), rb, rp, re, idle, ra, ga, gl,
		1e6 * (u1 - u0) / (n ? n : 1), 100 * (u1 - u0) / t, u2 - u1, 100 * ct / t, 100 * cg / t,
		others < 0 ? 0 : others, cores }'
# The memory check: see the header.
if [ "$RSS_WAIT" -gt 0 ]; then
	if [ -n "$rss_back" ]; then
		echo "ua RSS back to $rss_now MiB (limit $rss_limit MiB: before + $MARGIN_MIB MiB + 10% of peak - before) after $rss_back s idle"
	else
		problems="$problems; RSS after $((IDLE + RSS_WAIT)) s idle is $rss_now MiB, above $rss_limit MiB (before + $MARGIN_MIB MiB + 10% of peak - before)"
	fi
else
	awk -v a="$rss_after" -v b="$rss_end" -v m="$MARGIN_MIB" 'BEGIN { exit !(a <= b + m) }' ||
		problems="$problems; RSS after $IDLE s idle is $rss_after MiB, more than $MARGIN_MIB MiB above $rss_end MiB at the end of the run"
fi
[ -z "$problems" ] || fail "${problems#; }"
echo "sipp_refer_load: ok in $(since "$began") s"
