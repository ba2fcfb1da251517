#!/usr/bin/env bash
# Interop: whole calls (INVITE, 200 with SDP, ACK, BYE, 200) between SIPp's
# built-in scenarios and "demo ua" on the dialog layer.
#   uas-udp, uas-tcp  SIPp -sn uac calls our UA (the callee), which answers
#                     200 with SDP; SIPp ACKs, then sends BYE at once (-d 0)
#   uac-udp           our UA calls SIPp -sn uas (180, 200 with SDP), ACKs,
#                     and sends BYE at once (-hold 0); SIPp answers 200
# Each pass must end with every call successful on both sides, none failed,
# and no dialog left in our UA.
#
#   CALLS      calls SIPp places over UDP (default 200)
#   TCP_CALLS  calls SIPp places over TCP; 0 skips the pass (default 200)
#   UAC_CALLS  calls our UA places; 0 skips the pass (default 200)
#   RATE       calls per second, both ways (default 50)
#   TIMEOUT    seconds each SIPp run may take before it fails (default 60)
#
# Everything stays on 127.0.0.1; every process started here is killed by
# PID and the temporary directory removed on exit, failure included.
set -euo pipefail
. "$(dirname "$0")/lib.bash"
cd "$(dirname "$0")/../.."

CALLS=${CALLS:-200}
TCP_CALLS=${TCP_CALLS:-200}
UAC_CALLS=${UAC_CALLS:-200}
RATE=${RATE:-50}
TIMEOUT=${TIMEOUT:-60}

command -v sipp >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y sip-tester; }

tmp=$(mktemp -d)
ua_pid=
sipp_pid=
cleanup() {
	for pid in $sipp_pid $ua_pid; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Options every SIPp run shares: loopback only (SIP, media and the control
# socket), bounded, statistics and errors in files.
sipp_common=(-i 127.0.0.1 -bind_local -ci 127.0.0.1 -mi 127.0.0.1
	-timeout "${TIMEOUT}s" -timeout_error -nostdin
	-trace_stat -stf "$tmp/stat.csv" -fd 1
	-trace_screen -screen_file "$tmp/screen.log"
	-trace_err -error_file "$tmp/errors.log")

# start_ua ARGS...: runs our UA on a free port of 127.0.0.1 and sets ua_port
# once it has printed its "listening" event (at most 10 s).
start_ua() {
	# Empty before the UA starts: the loop below must neither read an
	# earlier run's "listening" event nor a file not created yet.
	: >"$tmp/ua.out"
	"$tmp/demo" ua -listen 127.0.0.1:0 -duration "$((TIMEOUT + 60))s" "$@" \
		>"$tmp/ua.out" 2>"$tmp/ua.err" &
	ua_pid=$!
	ua_port=
	await_listening "$ua_pid" "$tmp/ua.out" "$tmp/ua.err" ua
	ua_port=$listen_port
}

# wait_ua SECONDS: waits at most that long for our UA to exit by itself;
# sets ua_rc to its exit status.
wait_ua() {
	for _ in $(seq "$(($1 * 10))"); do
		kill -0 "$ua_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$ua_pid" 2>/dev/null && fail "ua did not exit within $1 s"
	ua_rc=0
	wait "$ua_pid" || ua_rc=$?
	ua_pid=
}

# stop_ua: SIGTERM, then at most 10 s for the UA to write its stats and exit
# (status 0: it placed no call).
stop_ua() {
	kill -0 "$ua_pid" 2>/dev/null || { cat "$tmp/ua.err" >&2; fail "ua died during the run"; }
	kill -TERM "$ua_pid"
	wait_ua 10
	[ "$ua_rc" = 0 ] || fail "ua exited with status $ua_rc"
}

# report NAME N: prints SIPp's counts and our UA's stats, and fails unless
# SIPp saw N successful calls and none failed.
report() {
	local name=$1 n=$2 rc=$3 elapsed=$4
	grep -E '^ *(Successful call|Failed call)|-{10}>|<-{10}' "$tmp/screen.log" || true
	[ -s "$tmp/stat.csv" ] || { tail -n 20 "$tmp/sipp.out" >&2; fail "$name: SIPp wrote no statistics (exit $rc)"; }
	local ok failed retrans
	ok=$(csv_field "$tmp/stat.csv" 'SuccessfulCall(C)')
	failed=$(csv_field "$tmp/stat.csv" 'FailedCall(C)')
	retrans=$(csv_field "$tmp/stat.csv" 'Retransmissions(C)')
	echo "$name: SIPp: $ok successful, $failed failed, $retrans retransmissions, exit $rc, $elapsed s"
	echo "$name: ua: $(grep '"event":"stats"' "$tmp/ua.out" || echo 'no stats')"
	if [ "$rc" -ne 0 ] || [ "$failed" != 0 ] || [ "$ok" != "$n" ]; then
		[ -s "$tmp/errors.log" ] && { head -c 2000 "$tmp/errors.log"; echo; } >&2
		tail -n 20 "$tmp/ua.err" >&2
		fail "$name: SIPp exit $rc, $ok of $n calls successful, $failed failed"
	fi
	for field in send_errors parse_errors invalid rejected dialogs; do
		[ "$(json_field "$field")" = 0 ] || { tail -n 20 "$tmp/ua.err" >&2; fail "$name: ua $field is not 0"; }
	done
}

# uas PROTO SIPP_TRANSPORT N: SIPp's uac places N calls to our UA.
uas() {
	local proto=$1 sipp_t=$2 n=$3 name="uas-$1" rc=0 start end
	echo "-- $name: SIPp -sn uac places $n calls at $RATE/s to our UA over $proto"
	rm -f "$tmp"/stat.csv "$tmp"/screen.log "$tmp"/errors.log
	start_ua -transport "$proto" -ring
	start=$(date +%s.%N)
	timeout -k 5 "$((TIMEOUT + 30))" sipp -sn uac -s bob -t "$sipp_t" -d 0 \
		-m "$n" -r "$RATE" -rp 1000 -l "$n" "${sipp_common[@]}" \
		"127.0.0.1:$ua_port" </dev/null >"$tmp/sipp.out" 2>&1 &
	sipp_pid=$!
	wait "$sipp_pid" || rc=$?
	sipp_pid=
	end=$(date +%s.%N)
	stop_ua
	report "$name" "$n" "$rc" "$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')"
	for field in calls_received calls_received_established; do
		[ "$(json_field "$field")" = "$n" ] || fail "$name: ua $field is not $n"
	done
	[ "$(json_field calls_received_failed)" = 0 ] || fail "$name: ua calls_received_failed is not 0"
	[ "$(grep -c '"event":"call_ended"' "$tmp/ua.out")" = "$n" ] || fail "$name: ua wrote not $n call_ended events"
}

# uac N: our UA places N calls to SIPp's uas over UDP.
uac() {
	local n=$1 name=uac-udp rc=0 start end port
	echo "-- $name: our UA places $n calls at $RATE/s to SIPp -sn uas over udp"
	rm -f "$tmp"/stat.csv "$tmp"/screen.log "$tmp"/errors.log
	# SIPp needs its port given: try a few random ones below the ephemeral
	# range until one binds.
	for _ in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 10000))
		udp_bound "$port" && continue
		timeout -k 5 "$((TIMEOUT + 30))" sipp -sn uas -t u1 -p "$port" -m "$n" "${sipp_common[@]}" \
			</dev/null >"$tmp/sipp.out" 2>&1 &
		sipp_pid=$!
		await_bound "$sipp_pid" udp "$port" && break
		sipp_pid=
	done
	[ -n "$sipp_pid" ] || { tail -n 5 "$tmp/sipp.out" >&2; fail "$name: SIPp could not listen"; }

	start=$(date +%s.%N)
	start_ua -user alice -call "sip:service@127.0.0.1:$port" -max-calls "$n" -call-rate "$RATE"
	# n calls at RATE a second, and room for one timer B or F (64*T1 =
	# 32 s), so that a call lost on the way is reported by the UA itself.
	wait_ua "$((n / RATE + 40))"
	wait "$sipp_pid" || rc=$?
	sipp_pid=
	end=$(date +%s.%N)
	report "$name" "$n" "$rc" "$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')"
	[ "$ua_rc" = 0 ] || fail "$name: ua exited with status $ua_rc (a call it placed failed)"
	for field in calls_placed calls_established; do
		[ "$(json_field "$field")" = "$n" ] || fail "$name: ua $field is not $n"
	done
	for field in calls_failed calls_cancelled hangups_failed; do
		[ "$(json_field "$field")" = 0 ] || fail "$name: ua $field is not 0"
	done
}

began=$(date +%s)
go build -o "$tmp/demo" ./cmd/demo
if [ "$CALLS" -gt 0 ]; then uas udp u1 "$CALLS"; fi
if [ "$TCP_CALLS" -gt 0 ]; then uas tcp t1 "$TCP_CALLS"; fi
if [ "$UAC_CALLS" -gt 0 ]; then uac "$UAC_CALLS"; fi
echo "sipp_call: ok in $(($(date +%s) - began)) s"
