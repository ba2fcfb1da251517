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
scenarios=.ci/interop/sipp

command -v sipp >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y sip-tester; }

tmp=$(mktemp -d)
ua_pid=
sipp_pid=
target_pid=
cleanup() {
	for pid in $sipp_pid $target_pid $ua_pid; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# sipp_opts NAME: the options every SIPp run shares: loopback only (SIP,
# media and the control socket), bounded, statistics, screen, errors and
# logs in files named after NAME.
sipp_opts() {
	echo -i 127.0.0.1 -bind_local -ci 127.0.0.1 -mi 127.0.0.1 \
		-timeout "${TIMEOUT}s" -timeout_error -nostdin \
		-trace_stat -stf "$tmp/$1.csv" -fd 1 \
		-trace_screen -screen_file "$tmp/$1.screen" \
		-trace_err -error_file "$tmp/$1.errors" \
		-trace_logs -log_file "$tmp/$1.log"
}

# start_ua ARGS...: runs our UA on a free port of 127.0.0.1 and sets ua_port
# once it has printed its "listening" event (at most 10 s).
start_ua() {
	# Empty before the UA starts: the loop below must not read a listening
	# event of an earlier run, nor a file the UA has not created yet.
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
# with status 0.
stop_ua() {
	kill -0 "$ua_pid" 2>/dev/null || { cat "$tmp/ua.err" >&2; fail "ua died during the run"; }
	kill -TERM "$ua_pid"
	wait_ua 10
	[ "$ua_rc" = 0 ] || fail "ua exited with status $ua_rc"
}

# start_sipp_uas NAME SCENARIO ARGS...: runs SIPp as a server on a free port
# (a few tries) for CALLS calls, and sets uas_port and uas_pid once it is
# bound.
start_sipp_uas() {
	local name=$1 scenario=$2
	shift 2
	uas_pid=
	for _ in 1 2 3 4 5; do
		free_port
		# shellcheck disable=SC2046
		timeout -k 5 "$((TIMEOUT + 30))" sipp -sf "$scenario" -p "$port" -m "$CALLS" "$@" $(sipp_opts "$name") \
			</dev/null >"$tmp/$name.out" 2>&1 &
		uas_pid=$!
		if await_bound "$uas_pid" udp "$port"; then
			uas_port=$port
			return 0
		fi
		uas_pid=
	done
	tail -n 5 "$tmp/$name.out" >&2
	fail "$name: SIPp could not listen"
}

# run_sipp_uac NAME SCENARIO ARGS...: runs SIPp as a client of our UA for
# CALLS calls at RATE and sets uac_rc to its exit status.
run_sipp_uac() {
	local name=$1 scenario=$2
	shift 2
	free_port
	uac_rc=0
	# shellcheck disable=SC2046
	timeout -k 5 "$((TIMEOUT + 30))" sipp -sf "$scenario" -p "$port" -s bob -m "$CALLS" -r "$RATE" -rp 1000 \
		"$@" $(sipp_opts "$name") "127.0.0.1:$ua_port" </dev/null >"$tmp/$name.out" 2>&1 &
	sipp_pid=$!
	wait "$sipp_pid" || uac_rc=$?
	sipp_pid=
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
	local name=$1 rc=$2 ok failed retrans
	[ -s "$tmp/$name.csv" ] || { tail -n 20 "$tmp/$name.out" >&2; fail "$pass: $name: SIPp wrote no statistics (exit $rc)"; }
	ok=$(csv_field "$tmp/$name.csv" 'SuccessfulCall(C)')
	failed=$(csv_field "$tmp/$name.csv" 'FailedCall(C)')
	retrans=$(csv_field "$tmp/$name.csv" 'Retransmissions(C)')
	echo "$pass: SIPp $name: $ok successful, $failed failed, $retrans retransmissions, exit $rc"
	if [ "$rc" -ne 0 ] || [ "$failed" != 0 ] || [ "$ok" != "$CALLS" ]; then
		for f in "$tmp/$name.errors" "$tmp/$name.log"; do
			[ -s "$f" ] && { head -c 3000 "$f"; echo; } >&2
		done
		tail -n 20 "$tmp/ua.err" >&2
		fail "$pass: $name: SIPp exit $rc, $ok of $CALLS calls successful, $failed failed"
	fi
}

# check_ua FIELD=VALUE...: fails unless our UA's stats say so; VALUE may be
# >=N. Transport errors and dialogs left must always be 0.
check_ua() {
	echo "$pass: ua: $(grep '"event":"stats"' "$tmp/ua.out" || echo 'no stats')"
	local kv field want got
	for kv in send_errors=0 parse_errors=0 invalid=0 rejected=0 dialogs=0 "$@"; do
		field=${kv%%=*}
		want=${kv#*=}
		got=$(json_field "$field")
		case $want in
		">="*) [ -n "$got" ] && [ "$got" -ge "${want#>=}" ] && continue ;;
		*) [ "$got" = "$want" ] && continue ;;
		esac
		tail -n 20 "$tmp/ua.err" >&2
		fail "$pass: ua $field is ${got:-missing}, want $want"
	done
}

# count_events PATTERN: how many of our UA's events match PATTERN.
count_events() {
	grep -c -- "$1" "$tmp/ua.out" || true
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
	target_pid=$uas_pid
	start_ua -ring "$@"
	run_sipp_uac transferor "$scenario" -key target_port "$uas_port"
	wait_target
	stop_ua
	check_sipp transferor "$uac_rc"
	check_sipp target "$target_rc"
	check_ua calls_received="$CALLS" calls_received_established="$CALLS" refers_received="$CALLS" \
		refers_accepted="$CALLS" refers_refused=0 referred_calls="$CALLS" referred_calls_established="$CALLS" \
		referred_calls_failed=0
	[ "$(count_events '"event":"refer_received".*"in_dialog":true')" = "$CALLS" ] ||
		fail "$pass: ua wrote not $CALLS refer_received events in a dialog"
}

# transferee: our UA transfers its calls to SIPp.
transferee() {
	local to=sip:carol@127.0.0.1:9 # never called: SIPp only reports it was
	start_sipp_uas transferee "$scenarios/refer_transferee.xml" -key transfer_to "$to"
	local sipp_uas=$uas_pid
	sipp_pid=$uas_pid
	start_ua -user alice -call "sip:sipp@127.0.0.1:$uas_port" -max-calls "$CALLS" -call-rate "$RATE" -transfer-to "$to"
	# CALLS calls at RATE a second, and room for one Timer F (64*T1 = 32 s)
	# so that a REFER or NOTIFY lost on the way is reported by the UA itself.
	wait_ua "$((CALLS / RATE + 40))"
	local rc=0
	wait "$sipp_uas" || rc=$?
	sipp_pid=
	check_sipp transferee "$rc"
	[ "$ua_rc" = 0 ] || { tail -n 20 "$tmp/ua.err" >&2; fail "$pass: ua exited with status $ua_rc (a transfer or call failed)"; }
	check_ua calls_placed="$CALLS" calls_established="$CALLS" calls_failed=0 hangups_failed=0 \
		transfers_started="$CALLS" transfers_ok="$CALLS" transfers_failed=0 transfers_cancelled=0
	[ "$(count_events '"event":"transfer_result".*"ok":true,"refer_code":202,"code":200')" = "$CALLS" ] ||
		fail "$pass: ua wrote not $CALLS transfer_result events ok with 202 and 200"
	[ "$(count_events '"event":"notify".*"code":200,.*"state":"terminated"')" = "$CALLS" ] ||
		fail "$pass: ua wrote not $CALLS final notify events"
}

# bad_refer: SIPp sends malformed REFERs in calls to our UA.
bad_refer() {
	start_ua
	run_sipp_uac bad-refer "$scenarios/refer_bad.xml"
	stop_ua
	check_sipp bad-refer "$uac_rc"
	# A 400 retransmitted for a retransmitted REFER counts again.
	check_ua calls_received="$CALLS" calls_received_established="$CALLS" refers_received=0 \
		refers_refused=">=$((3 * CALLS))" referred_calls=0
	[ "$(count_events '"event":"refer_refused".*"code":400')" -ge "$((3 * CALLS))" ] ||
		fail "$pass: ua wrote fewer than $((3 * CALLS)) refer_refused events with 400"
}

# outside: SIPp sends REFERs outside any dialog to our UA.
outside() {
	start_sipp_uas target "$scenarios/refer_target.xml"
	target_pid=$uas_pid
	start_ua -accept-outside
	run_sipp_uac outside "$scenarios/refer_outside.xml" -key target_port "$uas_port"
	wait_target
	stop_ua
	check_sipp outside "$uac_rc"
	check_sipp target "$target_rc"
	check_ua calls_received=0 refers_received="$CALLS" refers_accepted="$CALLS" \
		referred_calls="$CALLS" referred_calls_established="$CALLS" referred_calls_failed=0
	[ "$(count_events '"event":"refer_received".*"in_dialog":false')" = "$CALLS" ] ||
		fail "$pass: ua wrote not $CALLS refer_received events outside a dialog"
}

# outside_refused: a stranger's REFERs outside any dialog get 403 from our
# UA as it is by default, and it calls no one.
outside_refused() {
	start_ua
	run_sipp_uac outside-refused "$scenarios/refer_outside_refused.xml"
	stop_ua
	check_sipp outside-refused "$uac_rc"
	check_ua refers_received=0 refers_accepted=0 refers_refused=">=$CALLS" referred_calls=0 calls_placed=0
	[ "$(count_events '"event":"refer_refused".*"code":403')" -ge "$CALLS" ] ||
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
	echo "$pass: PASS$expected in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
done
echo "sipp_refer: ok in $(awk -v s="$began" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
