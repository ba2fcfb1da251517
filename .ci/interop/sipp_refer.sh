#!/usr/bin/env bash
# Interop: call transfer with REFER (RFC 3515, RFC 5589) between SIPp and
# "demo ua" on the refer layer. Scenarios in .ci/interop/sipp/refer_*.xml.
#   transferor          SIPp (refer_transferor.xml) calls our UA and REFERs
#                       it, in the call's dialog, to a second SIPp playing the
#                       target (refer_target.xml); the REFER must get 200
#                       (RFC 7647 §5),
#                       then NOTIFYs with sipfrag 100 (active) and 200
#                       (terminated); SIPp answers each 200 and hangs up. Our
#                       UA must have called the target (which hangs up).
#   transferor-rfc3515  the same with "demo ua -rfc3515": the REFER gets 202
#   transferee          our UA (-call, -transfer-to) calls SIPp
#                       (refer_transferee.xml), which answers, takes the
#                       REFER (202) and sends NOTIFYs 100 and 200
#                       terminated;reason=noresource; our UA must report
#                       every transfer ok, hang up, and exit 0
#   bad-refer           SIPp (refer_bad.xml) sends REFERs with no Refer-To and
#                       with two (one field, two fields) in a call's dialog:
#                       each must get 400, and the call go on to its BYE
#   outside             SIPp (refer_outside.xml) sends a REFER outside any
#                       dialog, to the target as above, to our UA run with
#                       -accept-outside: 200 with a To tag, then the NOTIFYs
#                       in the dialog it created (SIPp checks their Call-ID
#                       and both tags)
#   outside-refused     the same REFER from a stranger to our UA as it is by
#                       default (refer_outside_refused.xml): 403, no call
# Each pass: every SIPp call successful, none failed, the UA's counts as
# expected and no dialog left in it.
#
#   CALLS    calls per pass (default 5)
#   RATE     calls per second SIPp or our UA starts (default 10)
#   TIMEOUT  seconds each SIPp run may take before it fails (default 15)
#   PASSES   which passes to run (default all of them, in the order above)
#
# Everything stays on 127.0.0.1; every process started here is killed by
# PID and the temporary directory removed on exit, failure included.
set -euo pipefail
. "$(dirname "$0")/lib.bash"
cd "$(dirname "$0")/../.."

CALLS=${CALLS:-5}
RATE=${RATE:-10}
TIMEOUT=${TIMEOUT:-15}
PASSES=${PASSES:-"transferor transferor-rfc3515 transferee bad-refer outside outside-refused"}
scenarios=$PWD/.ci/interop/sipp

need_peer sipp sip-tester

tmp=$(mktemp -d)
trap sipp_cleanup EXIT
trap 'exit 1' INT TERM

# start_ua ARGS...: our UA, bounded by -duration whatever happens.
start_ua() {
	run_demo ua ua -duration "$((TIMEOUT + 60))s" "$@"
}

# start_sipp_uas NAME SCENARIO ARGS...: SIPp as a server on a free port for
# CALLS calls; sets sipp_pid and sipp_port once it is bound. Its messages
# are logged too (-trace_logs), for the report of a failed pass.
start_sipp_uas() {
	local name=$1 scenario=$2
	shift 2
	sipp_listen "$name" udp -sf "$scenario" -m "$CALLS" "$@" -trace_logs -log_file "$tmp/$name.log"
}

# run_sipp_uac NAME SCENARIO ARGS...: SIPp as a client of our UA, from a
# free port, for CALLS calls at RATE; sets uac_rc to its exit status.
run_sipp_uac() {
	local name=$1 scenario=$2
	shift 2
	free_port
	sipp_run "$name" -sf "$scenario" -p "$port" -s bob -m "$CALLS" -r "$RATE" -rp 1000 "$@" \
		-trace_logs -log_file "$tmp/$name.log" "127.0.0.1:$ua_port"
	uac_rc=$sipp_rc
}

# wait_target: waits for the target SIPp, which exits after CALLS calls, and
# sets target_rc.
wait_target() {
	target_rc=0
	wait "$target_pid" || target_rc=$?
	target_pid=
}

# check_sipp NAME RC: prints the counts of SIPp run NAME, and fails unless
# it exited 0 with CALLS successful calls and none failed.
check_sipp() {
	local name=$1 rc=$2
	sipp_result "$pass: $name" "$name" "$rc"
	echo "$pass: SIPp $name: $(sipp_summary "$rc")"
	sipp_verdict "$pass: $name" "$name" "$rc" "$CALLS" "$tmp/$name.log" "$tmp/ua.err"
}

# check_ua FIELD=VALUE...: prints our UA's stats and fails unless they say
# so; VALUE may be >=N. Transport errors and dialogs left must always be 0.
check_ua() {
	echo "$pass: ua: $(demo_stats ua)"
	demo_fields "$pass" ua send_errors=0 parse_errors=0 invalid=0 rejected=0 dialogs=0 "$@"
}

# transferor [UA_FLAGS...]: SIPp transfers its calls to our UA to the target.
transferor() {
	local scenario=$scenarios/refer_transferor.xml
	if [ "${1:-}" = -rfc3515 ]; then
		# RFC 3515 §2.4.2: a 202 accepts the REFER.
		sed 's|<recv response="200" response_txn="refer"/>|<recv response="202" response_txn="refer"/>|' "$scenario" >"$tmp/refer_transferor_202.xml"
		grep -q '<recv response="202" response_txn="refer"/>' "$tmp/refer_transferor_202.xml" || fail "$pass: no 200 to replace"
		scenario=$tmp/refer_transferor_202.xml
	fi
	start_sipp_uas target "$scenarios/refer_target.xml"
	target_pid=$sipp_pid
	start_ua -ring "$@"
	run_sipp_uac transferor "$scenario" -key target_port "$sipp_port"
	wait_target
	stop_demo ua
	check_sipp transferor "$uac_rc"
	check_sipp target "$target_rc"
	check_ua calls_received="$CALLS" calls_received_established="$CALLS" refers_received="$CALLS" \
		refers_accepted="$CALLS" refers_refused=0 referred_calls="$CALLS" referred_calls_established="$CALLS" \
		referred_calls_failed=0
	[ "$(count_events ua '"event":"refer_received".*"in_dialog":true')" = "$CALLS" ] ||
		fail "$pass: ua wrote not $CALLS refer_received events in a dialog"
}

# transferee: our UA transfers its calls to SIPp.
transferee() {
	local to=sip:carol@127.0.0.1:9 # never called: SIPp only reports it was
	start_sipp_uas transferee "$scenarios/refer_transferee.xml" -key transfer_to "$to"
	local sipp_uas=$sipp_pid
	start_ua -user alice -call "sip:sipp@127.0.0.1:$sipp_port" -max-calls "$CALLS" -call-rate "$RATE" -transfer-to "$to"
	# CALLS calls at RATE a second, and room for one Timer F (64*T1 = 32 s)
	# so that a REFER or NOTIFY lost on the way is reported by the UA itself.
	wait_demo ua "$((CALLS / RATE + 40))"
	local rc=0
	wait "$sipp_uas" || rc=$?
	check_sipp transferee "$rc"
	[ "$ua_rc" = 0 ] || { tail -n 20 "$tmp/ua.err" >&2; fail "$pass: ua exited with status $ua_rc (a transfer or call failed)"; }
	check_ua calls_placed="$CALLS" calls_established="$CALLS" calls_failed=0 hangups_failed=0 \
		transfers_started="$CALLS" transfers_ok="$CALLS" transfers_failed=0 transfers_cancelled=0
	[ "$(count_events ua '"event":"transfer_result".*"ok":true,"refer_code":202,"code":200')" = "$CALLS" ] ||
		fail "$pass: ua wrote not $CALLS transfer_result events ok with 202 and 200"
	[ "$(count_events ua '"event":"notify".*"code":200,.*"state":"terminated"')" = "$CALLS" ] ||
		fail "$pass: ua wrote not $CALLS final notify events"
}

# bad_refer: SIPp sends malformed REFERs in calls to our UA.
bad_refer() {
	start_ua
	run_sipp_uac bad-refer "$scenarios/refer_bad.xml"
	stop_demo ua
	check_sipp bad-refer "$uac_rc"
	# A 400 retransmitted for a retransmitted REFER counts again.
	check_ua calls_received="$CALLS" calls_received_established="$CALLS" refers_received=0 \
		refers_refused=">=$((3 * CALLS))" referred_calls=0
	[ "$(count_events ua '"event":"refer_refused".*"code":400')" -ge "$((3 * CALLS))" ] ||
		fail "$pass: ua wrote fewer than $((3 * CALLS)) refer_refused events with 400"
}

# outside: SIPp sends REFERs outside any dialog to our UA.
outside() {
	start_sipp_uas target "$scenarios/refer_target.xml"
	target_pid=$sipp_pid
	start_ua -accept-outside
	run_sipp_uac outside "$scenarios/refer_outside.xml" -key target_port "$sipp_port"
	wait_target
	stop_demo ua
	check_sipp outside "$uac_rc"
	check_sipp target "$target_rc"
	check_ua calls_received=0 refers_received="$CALLS" refers_accepted="$CALLS" \
		referred_calls="$CALLS" referred_calls_established="$CALLS" referred_calls_failed=0
	[ "$(count_events ua '"event":"refer_received".*"in_dialog":false')" = "$CALLS" ] ||
		fail "$pass: ua wrote not $CALLS refer_received events outside a dialog"
}

# outside_refused: a stranger's REFERs outside any dialog get 403 from our
# UA as it is by default, and it calls no one.
outside_refused() {
	start_ua
	run_sipp_uac outside-refused "$scenarios/refer_outside_refused.xml"
	stop_demo ua
	check_sipp outside-refused "$uac_rc"
	check_ua refers_received=0 refers_accepted=0 refers_refused=">=$CALLS" referred_calls=0 calls_placed=0
	[ "$(count_events ua '"event":"refer_refused".*"code":403')" -ge "$CALLS" ] ||
		fail "$pass: ua wrote fewer than $CALLS refer_refused events with 403"
}

began=$(date +%s.%N)
go build -o "$tmp/demo" ./cmd/demo
for pass in $PASSES; do
	rm -f "$tmp"/*.csv "$tmp"/*.screen "$tmp"/*.errors "$tmp"/*.log "$tmp"/*.out
	echo "-- $pass: $CALLS calls at $RATE/s"
	start=$(date +%s.%N)
	case $pass in
	transferor) transferor ;;
	transferor-rfc3515) transferor -rfc3515 ;;
	transferee) transferee ;;
	bad-refer) bad_refer ;;
	outside) outside ;;
	outside-refused) outside_refused ;;
	*) fail "unknown pass $pass" ;;
	esac
	# A pass whose every REFER is to be refused says which status it wanted.
	expected=
	case $pass in
	bad-refer) expected=" (expected 400 Bad Request)" ;;
	outside-refused) expected=" (expected 403 Forbidden)" ;;
	esac
	echo "$pass: PASS$expected in $(since "$start") s"
done
echo "sipp_refer: ok in $(since "$began") s"
