#!/usr/bin/env bash
# Interop: SIP events (RFC 6665) between SIPp scenarios and "demo events" on
# package event.
#   unknown-udp     SIPp SUBSCRIBEs for a package we do not serve
#                   (sipp/events_unknown.xml): 489 with Allow-Events: test
#   notify-udp/tcp  SIPp subscribes to our notifier and unsubscribes
#                   (sipp/events_subscribe.xml): 200 with Expires, NOTIFY
#                   active "state 1", then 200 and NOTIFY terminated
#   subscribe-udp/tcp  our subscriber subscribes to SIPp as notifier
#                   (sipp/events_notifier.xml): 200 with Expires, NOTIFY
#                   active with a body, NOTIFY terminated;reason=noresource;
#                   our agent must report both NOTIFYs and exit 0
# Each pass must end with every SIPp call successful, our agent's counts
# exact and no subscription or dialog left in it.
#
#   SUBS     subscriptions per pass (default 10)
#   TIMEOUT  seconds each SIPp run may take before it fails (default 10)
#
# Everything stays on 127.0.0.1; every process started here is killed by
# PID and the temporary directory removed on exit, failure included.
set -euo pipefail
. "$(dirname "$0")/lib.bash"
cd "$(dirname "$0")/../.."

SUBS=${SUBS:-10}
TIMEOUT=${TIMEOUT:-10}
scenarios=.ci/interop/sipp

command -v sipp >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y sip-tester; }

tmp=$(mktemp -d)
agent_pid=
sipp_pid=
cleanup() {
	for pid in $sipp_pid $agent_pid; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Options every SIPp run shares: loopback only (SIP, media and the control
# socket), bounded, statistics and errors in files. -nd: no default
# behaviour, such as a BYE for a call that failed, which means nothing to
# a subscription.
sipp_common=(-i 127.0.0.1 -bind_local -ci 127.0.0.1 -mi 127.0.0.1 -nd
	-timeout "${TIMEOUT}s" -timeout_error -nostdin
	-trace_stat -stf "$tmp/stat.csv" -fd 1
	-trace_screen -screen_file "$tmp/screen.log"
	-trace_err -error_file "$tmp/errors.log")

# count_events PATTERN: lines of our agent's output matching PATTERN.
count_events() {
	grep -c -- "$1" "$tmp/agent.out" || true
}

# start_agent ARGS...: runs "demo events" on a free port of 127.0.0.1 and
# sets agent_port once it has printed its "listening" event (at most 10 s).
# -duration bounds it, whatever happens.
start_agent() {
	# The file exists before the agent starts, so that reading it below
	# cannot fail (and stop the script under set -e) if the shell has not
	# opened it yet.
	: >"$tmp/agent.out"
	"$tmp/demo" events -listen 127.0.0.1:0 -duration "$((TIMEOUT + 20))s" "$@" \
		>"$tmp/agent.out" 2>"$tmp/agent.err" &
	agent_pid=$!
	agent_port=
	await_listening "$agent_pid" "$tmp/agent.out" "$tmp/agent.err" agent
	agent_port=$listen_port
}

# wait_agent SECONDS: waits at most that long for our agent to exit by
# itself; sets agent_rc to its exit status.
wait_agent() {
	for _ in $(seq "$(($1 * 10))"); do
		kill -0 "$agent_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$agent_pid" 2>/dev/null && { tail -n 20 "$tmp/agent.err" >&2; fail "agent did not exit within $1 s"; }
	agent_rc=0
	wait "$agent_pid" || agent_rc=$?
	agent_pid=
}

# run_sipp NAME N ARGS...: runs SIPp in the foreground for N calls and
# fails unless all N succeeded.
run_sipp() {
	local name=$1 n=$2 rc=0
	shift 2
	rm -f "$tmp"/stat.csv "$tmp"/screen.log "$tmp"/errors.log
	timeout -k 5 "$((TIMEOUT + 10))" sipp "$@" -m "$n" "${sipp_common[@]}" </dev/null >"$tmp/sipp.out" 2>&1 || rc=$?
	sipp_report "$name" "$n" "$rc"
}

# sipp_report NAME N RC: prints SIPp's counts and fails unless it saw N
# successful calls and none failed.
sipp_report() {
	local name=$1 n=$2 rc=$3 ok failed
	[ -s "$tmp/stat.csv" ] || { tail -n 20 "$tmp/sipp.out" >&2; fail "$name: SIPp wrote no statistics (exit $rc)"; }
	ok=$(csv_field "$tmp/stat.csv" 'SuccessfulCall(C)')
	failed=$(csv_field "$tmp/stat.csv" 'FailedCall(C)')
	echo "$name: SIPp: $ok successful, $failed failed, $(csv_field "$tmp/stat.csv" 'Retransmissions(C)') retransmissions, exit $rc"
	if [ "$rc" -ne 0 ] || [ "$failed" != 0 ] || [ "$ok" != "$n" ]; then
		[ -s "$tmp/errors.log" ] && { head -c 3000 "$tmp/errors.log"; echo; } >&2
		tail -n 20 "$tmp/agent.err" >&2
		fail "$name: SIPp exit $rc, $ok of $n calls successful, $failed failed"
	fi
}

# expect_fields NAME FIELD=VALUE...: fails unless our agent's stats hold
# each value; always checks that nothing is left and nothing went wrong.
expect_fields() {
	local name=$1 kv field want got
	shift
	for kv in "$@" subscriptions_left=0 dialogs=0 send_errors=0 parse_errors=0 invalid=0 rejected=0; do
		field=${kv%%=*} want=${kv#*=}
		got=$(json_field "$field" "$tmp/agent.out")
		[ "$got" = "$want" ] || { tail -n 20 "$tmp/agent.err" >&2; fail "$name: agent $field is ${got:-missing}, want $want"; }
	done
}

# notify PROTO SIPP_TRANSPORT: SIPp subscribes SUBS times to our notifier
# and unsubscribes; over UDP, SUBSCRIBEs for an unknown package first.
notify() {
	local proto=$1 sipp_t=$2 name="notify-$1" unknown=5
	echo "-- $name: SIPp subscribes $SUBS times to our notifier over $proto, then unsubscribes"
	start_agent -transport "$proto" -notifies 0 -terminate=false -max "$SUBS"
	if [ "$proto" = udp ]; then
		echo "-- unknown-udp: SIPp subscribes $unknown times to a package our notifier does not serve"
		run_sipp unknown-udp "$unknown" -sf "$scenarios/events_unknown.xml" -s bob -t "$sipp_t" -r 50 -rp 1000 "127.0.0.1:$agent_port"
		echo "PASS (expected 489 Bad Event) unknown-udp: $unknown SUBSCRIBEs answered 489 with Allow-Events: test"
	fi
	run_sipp "$name" "$SUBS" -sf "$scenarios/events_subscribe.xml" -s bob -t "$sipp_t" -r 50 -rp 1000 "127.0.0.1:$agent_port"
	# -max: the agent exits once the SUBS subscriptions have ended.
	wait_agent 10
	echo "$name: agent: $(grep '"event":"stats"' "$tmp/agent.out" || echo 'no stats')"
	[ "$agent_rc" = 0 ] || fail "$name: agent exited with status $agent_rc"
	expect_fields "$name" subscribes_received="$SUBS" subscriptions_accepted="$SUBS" subscriptions_refused=0 \
		notifies_sent="$((2 * SUBS))" notifies_failed=0
	local ended
	ended=$(count_events '"event":"terminated","role":"notifier".*"reason":"unsubscribed"')
	[ "$ended" = "$SUBS" ] || fail "$name: $ended subscriptions ended by an unsubscribe, want $SUBS"
	[ "$(count_events '"event":"notify_sent".*"state":"terminated;reason=timeout".*"code":200')" = "$SUBS" ] ||
		fail "$name: want $SUBS final NOTIFYs terminated;reason=timeout answered 200"
	echo "PASS $name: $SUBS subscriptions, each NOTIFY active then terminated, none left"
}

# subscribe PROTO SIPP_TRANSPORT: our subscriber subscribes SUBS times to
# SIPp as notifier.
subscribe() {
	local proto=$1 sipp_t=$2 name="subscribe-$1" port rc=0 target
	echo "-- $name: our subscriber subscribes $SUBS times to SIPp as notifier over $proto"
	rm -f "$tmp"/stat.csv "$tmp"/screen.log "$tmp"/errors.log
	# SIPp needs its port given: try a few random ones below the ephemeral
	# range until one binds.
	for _ in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 10000))
		bound "$proto" "$port" && continue
		timeout -k 5 "$((TIMEOUT + 10))" sipp -sf "$scenarios/events_notifier.xml" -t "$sipp_t" -p "$port" \
			-m "$SUBS" "${sipp_common[@]}" </dev/null >"$tmp/sipp.out" 2>&1 &
		sipp_pid=$!
		await_bound "$sipp_pid" "$proto" "$port" && break
		sipp_pid=
	done
	[ -n "$sipp_pid" ] || { tail -n 5 "$tmp/sipp.out" >&2; fail "$name: SIPp could not listen"; }

	target="sip:sipp@127.0.0.1:$port"
	[ "$proto" = tcp ] && target="$target;transport=tcp"
	start_agent -transport "$proto" -user alice -subscribe "$target" -max "$SUBS" -expires 60s
	# The agent exits once every subscription has ended.
	wait_agent "$((TIMEOUT + 10))"
	wait "$sipp_pid" || rc=$?
	sipp_pid=
	sipp_report "$name" "$SUBS" "$rc"
	echo "$name: agent: $(grep '"event":"stats"' "$tmp/agent.out" || echo 'no stats')"
	[ "$agent_rc" = 0 ] || { tail -n 20 "$tmp/agent.err" >&2; fail "$name: agent exited with status $agent_rc (a subscription failed)"; }
	expect_fields "$name" subscriptions_started="$SUBS" subscriptions_established="$SUBS" subscriptions_ok="$SUBS" \
		subscriptions_failed=0 subscriptions_cancelled=0 notifies_received="$((2 * SUBS))"
	[ "$(count_events '"event":"notify_received".*"state":"active".*"body":"sipp state 1')" = "$SUBS" ] ||
		fail "$name: want $SUBS NOTIFYs active with SIPp's body"
	[ "$(count_events '"event":"notify_received".*"state":"terminated".*"reason":"noresource"')" = "$SUBS" ] ||
		fail "$name: want $SUBS NOTIFYs terminated;reason=noresource"
	[ "$(count_events '"event":"subscribe_response".*"code":200,"expires":60')" = "$SUBS" ] ||
		fail "$name: want $SUBS SUBSCRIBEs answered 200 with Expires: 60"
	echo "PASS $name: $SUBS subscriptions, both NOTIFYs reported, exit 0"
}

began=$(date +%s)
go build -o "$tmp/demo" ./cmd/demo
notify udp u1
notify tcp t1
subscribe udp u1
subscribe tcp t1
echo "sipp_events: ok in $(($(date +%s) - began)) s"
