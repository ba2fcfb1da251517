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

need_peer sipp sip-tester

tmp=$(mktemp -d)
trap sipp_cleanup EXIT
trap 'exit 1' INT TERM

# start_ua ARGS...: our UA, bounded by -duration whatever happens.
start_ua() {
	run_demo ua ua -duration "$((TIMEOUT + 60))s" "$@"
}

# report NAME N RC ELAPSED: prints SIPp's counts and our UA's stats, and
# fails unless SIPp (exit status RC) saw N successful calls and none failed.
report() {
	local name=$1 n=$2 rc=$3 elapsed=$4
	grep -E '^ *(Successful call|Failed call)|-{10}>|<-{10}' "$tmp/$name.screen" || true
	sipp_result "$name" "$name" "$rc"
	echo "$name: SIPp: $(sipp_summary "$rc"), $elapsed s"
	echo "$name: ua: $(demo_stats ua)"
	sipp_verdict "$name" "$name" "$rc" "$n" "$tmp/ua.err"
	demo_fields "$name" ua send_errors=0 parse_errors=0 invalid=0 rejected=0 dialogs=0
}

# uas PROTO SIPP_TRANSPORT N: SIPp's uac places N calls to our UA.
uas() {
	local proto=$1 sipp_t=$2 n=$3 name="uas-$1" start end
	echo "-- $name: SIPp -sn uac places $n calls at $RATE/s to our UA over $proto"
	start_ua -transport "$proto" -ring
	start=$(date +%s.%N)
	sipp_run "$name" -sn uac -s bob -t "$sipp_t" -d 0 -m "$n" -r "$RATE" -rp 1000 -l "$n" "127.0.0.1:$ua_port"
	end=$(date +%s.%N)
	stop_demo ua
	report "$name" "$n" "$sipp_rc" "$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')"
	demo_fields "$name" ua calls_received="$n" calls_received_established="$n" calls_received_failed=0
	[ "$(count_events ua '"event":"call_ended"')" = "$n" ] || fail "$name: ua wrote not $n call_ended events"
}

# uac N: our UA places N calls to SIPp's uas over UDP.
uac() {
	local n=$1 name=uac-udp rc=0 start end sipp
	echo "-- $name: our UA places $n calls at $RATE/s to SIPp -sn uas over udp"
	sipp_listen "$name" udp -sn uas -t u1 -m "$n"
	sipp=$sipp_pid
	start=$(date +%s.%N)
	start_ua -user alice -call "sip:service@127.0.0.1:$sipp_port" -max-calls "$n" -call-rate "$RATE"
	# n calls at RATE a second, and room for one timer B or F (64*T1 =
	# 32 s), so that a call lost on the way is reported by the UA itself.
	wait_demo ua "$((n / RATE + 40))"
	wait "$sipp" || rc=$?
	end=$(date +%s.%N)
	report "$name" "$n" "$rc" "$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')"
	[ "$ua_rc" = 0 ] || fail "$name: ua exited with status $ua_rc (a call it placed failed)"
	demo_fields "$name" ua calls_placed="$n" calls_established="$n" calls_failed=0 calls_cancelled=0 hangups_failed=0
}

began=$(date +%s)
go build -o "$tmp/demo" ./cmd/demo
if [ "$CALLS" -gt 0 ]; then uas udp u1 "$CALLS"; fi
if [ "$TCP_CALLS" -gt 0 ]; then uas tcp t1 "$TCP_CALLS"; fi
if [ "$UAC_CALLS" -gt 0 ]; then uac "$UAC_CALLS"; fi
echo "sipp_call: ok in $(($(date +%s) - began)) s"
