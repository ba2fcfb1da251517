#!/usr/bin/env bash
# Interop: call transfer through a real proxy, Debian's Kamailio (5.6), a
# stateful proxy that record-routes INVITE, REFER and SUBSCRIBE on
# 127.0.0.1. Three "demo ua" processes, Alice (transferor), Bob
# (transferee) and Carol (target), send every request outside a dialog to
# it (-proxy: a preloaded Route, RFC 3261 §8.1.2); every request inside a
# dialog must follow the route set its Record-Route made (§12.2.1.1), so
# the proxy sees the whole transfer. It logs each request it relays and
# each response it forwards; the script counts them per case.
#
#   blind          Alice calls Bob, REFERs him to Carol; Bob calls Carol
#                  and NOTIFYs 100 and 200 (RFC 5589 §6.1)
#   attended       Alice calls Carol first, then REFERs Bob with a Replaces
#                  of that call; Bob's INVITE replaces it (RFC 5589 §7.1)
#   norefersub     blind with Refer-Sub: false: no NOTIFY (RFC 4488)
#   out-of-dialog  the REFER outside the call's dialog, with Target-Dialog
#                  (RFC 4538): it makes a dialog of its own across the proxy
#   merged         no transfer: Alice calls sip:fork@ Bob's address, which
#                  the proxy forks in parallel to two URIs that both reach
#                  Bob; Bob must answer one and the other, the same request
#                  by another path, 482 (RFC 3261 §8.2.2.2): one call
#
#   CASES          the cases to run (default: all of the above)
#   CASE_TIMEOUT   seconds one case may take (default 20)
#   KEEP           if set, the temporary directory (logs) is kept
#
# Everything stays on 127.0.0.1 (Kamailio with dns=no, listening there
# only); every process started is killed by PID on exit. Outside CI the
# script skips when Kamailio cannot be installed; in CI it fails.
set -euo pipefail
. "$(dirname "$0")/lib.bash"
cd "$(dirname "$0")/../.."
export LC_ALL=C

CASES=${CASES:-blind attended norefersub out-of-dialog merged}
CASE_TIMEOUT=${CASE_TIMEOUT:-20}

tmp=$(mktemp -d)
kamailio_pid=
bob_pid=
carol_pid=
alice_pid=
cleanup() {
	kill_tree "$kamailio_pid" "$alice_pid" "$bob_pid" "$carol_pid"
	if [ -n "${KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

began=$(date +%s)
need_peer kamailio kamailio
go build -o "$tmp/demo" ./cmd/demo

# The proxy: core modules only, one worker so its log is in order. It
# relays initial requests to their Request-URI (an IP address here) after
# taking off the Route that named it, record-routing the dialog-forming
# ones; requests inside a dialog follow their Route (loose_route), and an
# ACK or CANCEL without one goes with its transaction.
free_port
kam_port=$port
kamailio_config kamailio "$kam_port" <<'EOF'
#!KAMAILIO
debug=2
log_stderror=yes
children=1
listen=udp:127.0.0.1:@PORT@
disable_tcp=yes
dns=no
rev_dns=no
use_dns_cache=no
auto_aliases=no
alias="127.0.0.1:@PORT@"

loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "corex.so"

request_route {
	xlog("L_NOTICE", "relay $rm $ru totag=$tt\n");
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (has_totag()) {
		if (loose_route()) {
			t_relay();
			exit;
		}
		if (is_method("ACK") && t_check_trans()) {
			t_relay();
			exit;
		}
		xlog("L_NOTICE", "unrouted $rm $ru\n");
		sl_send_reply("404", "Not Here");
		exit;
	}
	if (is_method("CANCEL")) {
		if (t_check_trans()) {
			t_relay();
		}
		exit;
	}
	remove_hf("Route");
	if (is_method("INVITE|REFER|SUBSCRIBE")) {
		record_route();
	}
	if (is_method("INVITE") && $rU == "fork") {
		append_branch("sip:fork2@$rd:$rp");
	}
	t_relay();
}

onreply_route {
	xlog("L_NOTICE", "reply $rs $rm\n");
}
EOF
kamailio_start kamailio "$kam_port"
proxy="sip:127.0.0.1:$kam_port;lr"
echo "$self: $(kamailio -v 2>&1 | head -n 1) on 127.0.0.1:$kam_port"

n=0
for c in $CASES; do n=$((n + 1)); done
run_for=$((n * CASE_TIMEOUT + 30))
start_demo bob -proxy "$proxy" -duration "${run_for}s"
start_demo carol -proxy "$proxy" -duration "${run_for}s"

# relayed FROM PATTERN: how many requests the proxy logged relaying from
# line FROM of its log on whose "METHOD URI totag=TAG" the extended regex
# PATTERN matches.
relayed() {
	tail -n +"$1" "$tmp/kamailio.log" | sed -n 's/.*relay \(.*\)$/\1/p' | grep -cE -- "$2" || true
}

# replied FROM PATTERN: the same for the responses it logged, "CODE METHOD".
replied() {
	tail -n +"$1" "$tmp/kamailio.log" | sed -n 's/.*reply \([0-9]* [A-Z]*\)$/\1/p' | grep -cE -- "$2" || true
}

# want FROM PATTERN MIN [MAX]: at least MIN (and at most MAX) requests
# relayed; want_reply likewise for responses.
want() { want_count relayed requests "$@"; }
want_reply() { want_count replied responses "$@"; }
want_count() {
	local got
	got=$("$1" "$3" "$4")
	if [ "$got" -lt "$5" ] || { [ -n "${6:-}" ] && [ "$got" -gt "$6" ]; }; then
		echo "  the proxy relayed $got $2 matching '$4', want ${6:+$5 to $6}${6:-at least $5}" >&2
		case_failed=1
	fi
}

bob_uri=sip:bob@127.0.0.1:$bob_port
carol_uri=sip:carol@127.0.0.1:$carol_port
failed=0 # cases
wrong=0  # counters of Bob and Carol
attended=0
transfers=0
for c in $CASES; do
	case_start=$(date +%s.%N)
	from=$(($(wc -l <"$tmp/kamailio.log") + 1))
	case_failed=0
	extra=()
	if [ "$c" = merged ]; then
		start_demo alice -proxy "$proxy" -call "sip:fork@127.0.0.1:$bob_port" -max-calls 1 -duration "${CASE_TIMEOUT}s"
		rc=0
		wait_exit "$alice_pid" "$((CASE_TIMEOUT + 5))" || rc=$?
		alice_pid=
		cp "$tmp/alice.out" "$tmp/$c.alice.out"
		[ "$rc" = 0 ] || { echo "  alice exited with status $rc" >&2; case_failed=1; }
		grep -q '"event":"call_established"' "$tmp/alice.out" || { echo "  alice's call was not established" >&2; case_failed=1; }
		want "$from" "^INVITE sip:fork@127\.0\.0\.1:$bob_port totag=<null>$" 1 1
		want_reply "$from" "^482 INVITE$" 1 1 # the second branch, merged at Bob
		want_reply "$from" "^200 INVITE$" 1 1
		want "$from" "^ACK sip:bob@127\.0\.0\.1:$bob_port totag=." 1 1
		want "$from" "^BYE sip:bob@127\.0\.0\.1:$bob_port totag=." 1 1
	else
		transfers=$((transfers + 1))
		case $c in
		blind) ;;
		attended) extra=(-attended) attended=$((attended + 1)) ;;
		norefersub) extra=(-norefersub) ;;
		out-of-dialog) extra=(-out-of-dialog) ;;
		*) fail "unknown case $c" ;;
		esac
		start_demo alice -proxy "$proxy" -call "$bob_uri" -transfer-to "$carol_uri" -max-calls 1 \
			-duration "${CASE_TIMEOUT}s" "${extra[@]}"
		rc=0
		wait_exit "$alice_pid" "$((CASE_TIMEOUT + 5))" || rc=$?
		alice_pid=
		cp "$tmp/alice.out" "$tmp/$c.alice.out"
		cp "$tmp/alice.err" "$tmp/$c.alice.err"
		[ "$rc" = 0 ] || { echo "  alice exited with status $rc" >&2; case_failed=1; }
		result='"event":"transfer_result".*"ok":true,"refer_code":200,"code":200,'
		# RFC 4488: with no subscription the REFER's 200 is all Alice learns.
		[ "$c" = norefersub ] && result='"event":"transfer_result".*"ok":true,"refer_code":200,.*"no_subscription":true'
		grep -qE "$result" "$tmp/alice.out" || { echo "  alice reports no transfer result matching $result" >&2; case_failed=1; }

		# What must have crossed the proxy.
		want "$from" "^INVITE $bob_uri totag=<null>$" 1 1
		case $c in
		out-of-dialog)
			want "$from" "^REFER $bob_uri totag=<null>$" 1 1
			want "$from" "^NOTIFY sip:alice@127\.0\.0\.1:[0-9]+ totag=." 2
			;;
		norefersub)
			want "$from" "^REFER $bob_uri totag=." 1 1
			want "$from" "^NOTIFY " 0 0
			;;
		*)
			want "$from" "^REFER $bob_uri totag=." 1 1
			want "$from" "^NOTIFY sip:alice@127\.0\.0\.1:[0-9]+ totag=." 2
			;;
		esac
		if [ "$c" = attended ]; then
			want "$from" "^INVITE $carol_uri totag=<null>$" 2 2 # Alice's consultation, Bob's with Replaces
		else
			want "$from" "^INVITE $carol_uri totag=<null>$" 1 1
		fi
		want "$from" "^ACK sip:bob@127\.0\.0\.1:$bob_port totag=." 1 1
		want "$from" "^BYE sip:bob@127\.0\.0\.1:$bob_port totag=." 1 1
	fi
	want "$from" "^unrouted " 0 0

	elapsed=$(awk -v s="$case_start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
	if [ "$case_failed" = 0 ]; then
		expected= # a case whose success includes a failure status says which
		[ "$c" != merged ] || expected="expected 482 to the merged copy; "
		echo "$self: $c: PASS ($expected$elapsed s, $(relayed "$from" .) requests through the proxy)"
	else
		echo "---- what the proxy relayed" >&2
		tail -n +"$from" "$tmp/kamailio.log" | sed -n 's/.*\(relay .*\|reply .*\|unrouted .*\)$/  \1/p' >&2
		echo "---- alice" >&2
		cat "$tmp/alice.out" >&2
		tail -n 20 "$tmp/alice.err" >&2
		echo "$self: $c: FAIL ($elapsed s)"
		failed=$((failed + 1))
	fi
done

kamailio_stop kamailio

# Bob and Carol, stopped, must count every transfer.
kill -TERM "$bob_pid" "$carol_pid"
wait_exit "$bob_pid" 10 || true
wait_exit "$carol_pid" 10 || true
bob_pid=
carol_pid=
# One call per case: the merged copy must not be a second.
for kv in "calls_received=$n" "refers_received=$transfers" "refers_accepted=$transfers" "referred_calls_established=$transfers" "referred_calls_failed=0" "send_errors=0"; do
	got=$(json_field "${kv%%=*}" "$tmp/bob.out")
	[ "$got" = "${kv#*=}" ] || { echo "$self: bob: ${kv%%=*} is ${got:-missing}, want ${kv#*=}" >&2; wrong=$((wrong + 1)); }
done
for kv in "calls_received_established=$((transfers + attended))" "calls_received_failed=0"; do
	got=$(json_field "${kv%%=*}" "$tmp/carol.out")
	[ "$got" = "${kv#*=}" ] || { echo "$self: carol: ${kv%%=*} is ${got:-missing}, want ${kv#*=}" >&2; wrong=$((wrong + 1)); }
done

echo "$self: $((n - failed)) of $n cases passed in $(($(date +%s) - began)) s"
[ "$failed" = 0 ] && [ "$wrong" = 0 ] || fail "$failed cases failed, $wrong of Bob's and Carol's counters wrong"
echo "$self: ok"
