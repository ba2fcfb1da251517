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
scenarios=$PWD/.ci/interop/sipp

need_peer sipp sip-tester

tmp=$(mktemp -d)
trap sipp_cleanup EXIT
trap 'exit 1' INT TERM

# Every SIPp run here adds -nd to lib.bash's options: no default behaviour,
# such as a BYE for a call that failed, which means nothing to a
# subscription.

# start_agent ARGS...: runs "demo events" as agent; -duration bounds it,
# whatever happens.
start_agent() {
	run_demo agent events -duration "$((TIMEOUT + 20))s" "$@"
}

# run_sipp NAME N ARGS...: runs SIPp for N calls and fails unless all N
# succeeded.
run_sipp() {
	local name=$1 n=$2
	shift 2
	sipp_run "$name" -nd "$@" -m "$n"
	sipp_report "$name" "$n" "$sipp_rc"
}

# sipp_report NAME N RC: prints SIPp's counts and fails unless it saw N
# successful calls and none failed.
sipp_report() {
	sipp_result "$1" "$1" "$3"
	echo "$1: SIPp: $(sipp_summary "$3")"
	sipp_verdict "$1" "$1" "$3" "$2" "$tmp/agent.err"
}

# expect_fields NAME FIELD=VALUE...: fails unless our agent's stats hold
# each value; always checks that nothing is left and nothing went wrong.
expect_fields() {
	local name=$1
	shift
	demo_fields "$name" agent "$@" subscriptions_left=0 dialogs=0 send_errors=0 parse_errors=0 invalid=0 rejected=0
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
	wait_demo agent 10
	echo "$name: agent: $(demo_stats agent)"
	[ "$agent_rc" = 0 ] || fail "$name: agent exited with status $agent_rc"
	expect_fields "$name" subscribes_received="$SUBS" subscriptions_accepted="$SUBS" subscriptions_refused=0 \
		notifies_sent="$((2 * SUBS))" notifies_failed=0
	local ended
	ended=$(count_events agent '"event":"terminated","role":"notifier".*"reason":"unsubscribed"')
	[ "$ended" = "$SUBS" ] || fail "$name: $ended subscriptions ended by an unsubscribe, want $SUBS"
	[ "$(count_events agent '"event":"notify_sent".*"state":"terminated;reason=timeout".*"code":200')" = "$SUBS" ] ||
		fail "$name: want $SUBS final NOTIFYs terminated;reason=timeout answered 200"
	echo "PASS $name: $SUBS subscriptions, each NOTIFY active then terminated, none left"
}

# subscribe PROTO SIPP_TRANSPORT: our subscriber subscribes SUBS times to
# SIPp as notifier.
subscribe() {
	local proto=$1 sipp_t=$2 name="subscribe-$1" rc=0 target sipp
	echo "-- $name: our subscriber subscribes $SUBS times to SIPp as notifier over $proto"
	sipp_listen "$name" "$proto" -nd -sf "$scenarios/events_notifier.xml" -t "$sipp_t" -m "$SUBS"
	sipp=$sipp_pid

	target="sip:sipp@127.0.0.1:$sipp_port"
	[ "$proto" = tcp ] && target="$target;transport=tcp"
	start_agent -transport "$proto" -user alice -subscribe "$target" -max "$SUBS" -expires 60s
	# The agent exits once every subscription has ended.
	wait_demo agent "$((TIMEOUT + 10))"
	wait "$sipp" || rc=$?
	sipp_report "$name" "$SUBS" "$rc"
	echo "$name: agent: $(demo_stats agent)"
	[ "$agent_rc" = 0 ] || { tail -n 20 "$tmp/agent.err" >&2; fail "$name: agent exited with status $agent_rc (a subscription failed)"; }
	expect_fields "$name" subscriptions_started="$SUBS" subscriptions_established="$SUBS" subscriptions_ok="$SUBS" \
		subscriptions_failed=0 subscriptions_cancelled=0 notifies_received="$((2 * SUBS))"
	[ "$(count_events agent '"event":"notify_received".*"state":"active".*"body":"sipp state 1')" = "$SUBS" ] ||
		fail "$name: want $SUBS NOTIFYs active with SIPp's body"
	[ "$(count_events agent '"event":"notify_received".*"state":"terminated".*"reason":"noresource"')" = "$SUBS" ] ||
		fail "$name: want $SUBS NOTIFYs terminated;reason=noresource"
	[ "$(count_events agent '"event":"subscribe_response".*"code":200,"expires":60')" = "$SUBS" ] ||
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
