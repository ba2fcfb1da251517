#!/usr/bin/env bash
# Interop: call transfer (REFER, RFC 3515; Replaces, RFC 3891) between
# "demo ua" and a second real softphone, Debian's linphone (linphone-cli
# 5.1, linphonec), run headless with its commands written to a FIFO. Unlike
# baresip 1.0 it has attended transfer, so Replaces meets a real peer.
#
#   transferee           Alice (our UA) calls Bob (linphone, auto-answer)
#                        and REFERs him to Carol (our UA); Alice must see
#                        202 and NOTIFYs up to a final 200 (linphone ends
#                        with "terminated;reason=reason=noresource"),
#                        Carol a call from Bob with Referred-By
#   transferee-media     the same with linphone's default media_resources_mode
#                        (0; the other cases set 1): it then calls a REFER's
#                        target only if the call's SDP has usable media, as
#                        our UA's now has (it once offered port 9, inactive:
#                        linphone answered 202 and called no one)
#   blind-transferor     Alice (linphone) calls Bob (our UA) and transfers
#                        him ("transfer URI") to Carol (our UA): Bob takes
#                        the REFER, calls Carol, notifies Alice up to 200
#   attended-transferor  Alice (linphone) calls Bob (our UA), then Carol (our
#                        UA, consultation), and "transfer 1 --to-call 2":
#                        Bob's INVITE with Replaces reaches Carol, who
#                        replaces the consultation with it. linphone writes
#                        the Refer-To from the consultation's To without its
#                        port, so Carol listens on 5060
#   attended-target      Alice (our UA, -attended) calls Bob (our UA), then
#                        Carol (linphone, auto-answer, the consultation), and
#                        REFERs Bob with a Replaces of it: Bob's INVITE with
#                        Replaces reaches linphone, which replaces the call
#
#   CASES         the cases to run, in order (default: all of the above)
#   CASE_TIMEOUT  seconds one case may take before it is killed (default 45;
#                 a case takes 5 to 10 s on an idle machine)
#   CAPTURE       a directory: each case's traffic is kept there as
#                 CASE.pcap (tshark); without it the capture stays in the
#                 temporary directory. Either way, with tshark installed,
#                 each case prints one line per SIP message it saw
#   DEMO          a demo binary to use instead of building ./cmd/demo
#   KEEP          if set, the temporary directory (logs) is kept
#
# Each case runs in namespaces of its own (unshare -n -m): a network with
# lo only, on 127.0.0.1, and a private /tmp, since linphonec --pipe
# replaces any /tmp/linphonec-<uid> socket. Every process a case starts is
# killed by PID when it ends (linphonec: "terminate all", then TERM, then
# KILL), failure and timeout included. One line per case says PASS or
# FAIL; the script exits 1 if any failed, 0 with a SKIP line when
# linphonec or the namespaces cannot be had outside CI.
set -euo pipefail
. "$(dirname "$0")/lib.bash"
export LC_ALL=C

CASE_TIMEOUT=${CASE_TIMEOUT:-45}

# ======================================================================
# A case: bash linphone.sh --case NAME DIR, run by the driver under
# timeout and unshare -n -m. It writes its reason for failing to DIR/reason.
if [ "${1:-}" = --case ]; then
	name=$2
	case_begin "$3" # lib.bash: the case's files in $dir, fail, cleanup
	lin_pid=
	trap '[ -z "$lin_pid" ] || stop_linphone; case_cleanup' EXIT
	ip link set lo up

	# A private /tmp for linphonec's fixed socket. The case directory is
	# under the old /tmp: the tmpfs hides it, so it is bound back from this
	# shell's working directory, which still reaches it.
	cd "$dir"
	mount --make-rprivate /
	mount -t tmpfs -o size=16m,mode=1777 tmpfs /tmp
	mkdir -p "$dir"
	mount --no-canonicalize --bind /proc/self/cwd "$dir"
	cd "$dir"
	[ -x "$dir/demo" ] || fail "the case directory did not survive the private /tmp"

	# lin_expect REGEX WHAT [SECONDS]: waits for linphonec to print a line
	# matching REGEX.
	lin_expect() {
		wait_for "$dir/linphone.out" "$1" "${3:-10}" || fail "linphone: no \"$2\" within ${3:-10} s"
	}

	# start_linphone WHO [-a]: linphonec as user WHO on 127.0.0.1:5072
	# (-a: answering every call), its config in WHO.rc, its log (-d 6,
	# every SIP message) in linphone.log, what it prints in linphone.out;
	# returns once its SIP port is bound and it uses no sound card. With
	# media_resources_mode=1 it takes calls whose media it cannot use (no
	# sound card here); lin_mrm=0 leaves linphone's default.
	start_linphone() {
		local who=$1
		lin_port=5072
		cat >"$dir/$who.rc" <<-EOF
			[sip]
			sip_port=$lin_port
			sip_tcp_port=0
			sip_tls_port=0
			bind_address=127.0.0.1
			use_ipv6=0
			contact=sip:$who@127.0.0.1:$lin_port
			[rtp]
			bind_address=127.0.0.1
			[net]
			firewall_policy=0
			[misc]
			media_resources_mode=${lin_mrm:-1}
		EOF
		# Its HOME holds the call-history database; without that
		# directory it never opens its SIP socket.
		mkdir -p "$dir/home/.local/share/linphone"
		mkfifo "$dir/linphone.in"
		# Opened read-write: the FIFO stays open between commands.
		exec 4<>"$dir/linphone.in"
		: >"$dir/linphone.out"
		HOME=$dir/home linphonec --pipe -c "$dir/$who.rc" -d 6 -l "$dir/linphone.log" "${@:2}" \
			<&4 >"$dir/linphone.out" 2>"$dir/linphone.err" &
		lin_pid=$!
		echo "$lin_pid" >>"$dir/pids"
		local i
		for ((i = 0; i < 100; i++)); do
			udp_bound "$lin_port" && break
			kill -0 "$lin_pid" 2>/dev/null || fail "linphonec exited at start: $(tail -n 3 "$dir/linphone.out")"
			sleep 0.1
		done
		udp_bound "$lin_port" || fail "linphonec did not bind 127.0.0.1:$lin_port within 10 s"
		lin soundcard use files
		lin_expect 'Using wav files instead of soundcard' "Using wav files" 5
	}

	# lin COMMAND...: writes a command line to linphonec; it reads only
	# the last line waiting, so each gets a pause of its own.
	lin() {
		echo "$*" >&4
		sleep 0.4
	}

	# stop_linphone: "terminate all", then TERM, then KILL (quit and TERM
	# alone can hang), by PID.
	stop_linphone() {
		local i pid=$lin_pid
		lin_pid=
		if kill -0 "$pid" 2>/dev/null; then
			echo "terminate all" >&4 || true
			for ((i = 0; i < 10; i++)); do
				grep -qE 'ended|No active call' "$dir/linphone.out" && break
				sleep 0.1
			done
			kill -TERM "$pid" 2>/dev/null || true
			for ((i = 0; i < 20; i++)); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -KILL "$pid" 2>/dev/null || true
		fi
		{ wait "$pid"; } 2>/dev/null || true
	}

	! command -v tshark >/dev/null || capture "$dir/case.pcap" udp

	case $name in
	transferee | transferee-media)
		[ "$name" = transferee ] || lin_mrm=0
		ua carol -duration 25s
		start_linphone bob -a
		carol_uri="sip:carol@127.0.0.1:$carol_port"
		ua alice -call "sip:bob@127.0.0.1:$lin_port" -transfer-to "$carol_uri" -hold 500ms -duration 20s
		ua_exit alice 15
		grep -E '"event":"(refer_|notify|transfer_)' "$dir/alice.out" | sed 's/^/alice: /'
		[ "$alice_rc" = 0 ] || fail "alice (demo ua) exited with status $alice_rc"
		expect alice '"event":"call_established".*"direction":"out"' "call_established (to Bob)" 0
		expect alice '"event":"refer_response".*"code":202' "refer_response 202" 0
		expect alice '"event":"notify".*"code":200.*"state":"terminated' "final NOTIFY (sipfrag 200, terminated)" 0
		expect alice '"event":"transfer_result".*"ok":true' "transfer_result ok" 0
		expect carol '"event":"call_incoming".*"from":"[^"]*sip:bob@127\.0\.0\.1' "call_incoming from Bob (linphone)" 5
		expect carol '"event":"call_established".*"direction":"in"' "call_established (from Bob)" 5
		lin_expect "Call 2 with $carol_uri connected" "Call 2 with Carol connected" 0
		# Bob (linphone) hangs up the call to Carol: she must see it end.
		stop_linphone
		expect carol '"event":"call_ended".*"reason":"dialog: remote hung up"' "call_ended (Bob hung up)" 5
		stop_ua carol
		clean_stats alice carol
		;;
	blind-transferor)
		ua bob -duration 25s
		ua carol -duration 25s
		start_linphone alice
		carol_uri="sip:carol@127.0.0.1:$carol_port"
		lin call "sip:bob@127.0.0.1:$bob_port"
		expect bob '"event":"call_established".*"direction":"in"' "call_established (from Alice, linphone)" 10
		lin_expect 'Call 1 with .* connected' "Call 1 connected" 5
		lin transfer "$carol_uri"
		expect bob "\"event\":\"refer_received\".*\"refer_to\":\"[^\"]*$carol_uri.*\"code\":200" "refer_received (to Carol, answered 200)" 5
		expect bob '"event":"call_established".*"direction":"out".*"purpose":"referred"' "call_established (to Carol)" 5
		expect carol '"event":"call_incoming".*"from":"[^"]*sip:bob@' "call_incoming from Bob" 5
		expect carol '"event":"call_established".*"direction":"in"' "call_established (from Bob)" 5
		# linphone hangs up once a NOTIFY says 200.
		expect bob '"event":"call_ended".*"direction":"in".*"reason":"dialog: remote hung up"' "call_ended (Alice hung up after the transfer)" 10
		grep -E '"event":"refer_' "$dir/bob.out" | sed 's/^/bob: /'
		stop_linphone
		stop_ua bob
		expect carol '"event":"call_ended".*"reason":"dialog: remote hung up"' "call_ended (Bob hung up)" 5
		stop_ua carol
		clean_stats bob carol
		[ "$(json_field referred_calls_established "$dir/bob.out")" = 1 ] || fail "bob: referred_calls_established is not 1"
		;;
	attended-transferor)
		ua bob -duration 25s -v
		# linphone's Refer-To names the consultation's To URI without a
		# port: Carol must be on the default port.
		udp_bound 5060 && fail "127.0.0.1:5060 is taken"
		"$dir/demo" ua -listen 127.0.0.1:5060 -user carol -duration 25s >"$dir/carol.out" 2>"$dir/carol.err" &
		carol_pid=$!
		started "$carol_pid"
		await_listening "$carol_pid" "$dir/carol.out" "$dir/carol.err" carol
		start_linphone alice
		lin call "sip:bob@127.0.0.1:$bob_port"
		expect bob '"event":"call_established".*"direction":"in"' "call_established (from Alice, linphone)" 10
		lin_expect 'Call 1 with .* connected' "Call 1 connected" 5
		# linphonec places no second call while one is active: hold it
		# (a re-INVITE, a=sendonly) first.
		lin pause 1
		lin_expect 'Call 1 with .* is now paused' "Call 1 paused" 5
		# bob (-v) has answered the call's INVITE and the hold re-INVITE.
		[ "$(grep -c '"event":"request","method":"INVITE".*"status":200' "$dir/bob.out")" = 2 ] ||
			fail "bob: no 200 to linphone's hold re-INVITE"
		lin call "sip:carol@127.0.0.1:5060"
		expect carol '"event":"call_established".*"direction":"in"' "call_established (consultation from Alice)" 10
		lin_expect 'Call 2 with .* connected' "Call 2 connected" 5
		consult=$(sed -n 's/.*"event":"call_established","call_id":"\([^"]*\)".*/\1/p' "$dir/carol.out" | head -n 1)
		lin transfer 1 --to-call 2
		expect bob '"event":"refer_received".*"attended":true.*"code":200' "refer_received with Replaces (answered 200)" 5
		expect carol "\"event\":\"call_incoming\".*\"from\":\"[^\"]*sip:bob@.*\"replaces\":\"$consult\"" "INVITE with Replaces of the consultation" 5
		expect bob '"event":"call_established".*"direction":"out".*"purpose":"referred"' "call_established (to Carol, replacing)" 5
		expect carol "\"event\":\"call_ended\",\"call_id\":\"$consult\"" "the consultation ended (replaced)" 5
		expect bob '"event":"call_ended".*"direction":"in"' "call_ended (Alice's call, after the transfer)" 10
		grep -E '"event":"(refer_|call_)' "$dir/bob.out" "$dir/carol.out" | sed 's/^.*\///'
		stop_linphone
		stop_ua bob
		expect carol '"event":"call_ended".*"reason":"dialog: remote hung up"' "call_ended (Bob hung up)" 5
		stop_ua carol
		clean_stats bob carol
		;;
	attended-target)
		ua bob -duration 25s
		start_linphone carol -a
		carol_uri="sip:carol@127.0.0.1:$lin_port"
		ua alice -call "sip:bob@127.0.0.1:$bob_port" -transfer-to "$carol_uri" -attended -hold 500ms -duration 20s
		ua_exit alice 15
		grep -E '"event":"(call_|refer_|notify|transfer_)' "$dir/alice.out" | sed 's/^/alice: /'
		[ "$alice_rc" = 0 ] || fail "alice (demo ua) exited with status $alice_rc"
		expect alice '"event":"call_established".*"purpose":"consult"' "consultation established (linphone)" 0
		expect alice '"event":"refer_sent".*"attended":true' "refer_sent with Replaces" 0
		expect alice '"event":"notify".*"code":200.*"state":"terminated' "final NOTIFY (sipfrag 200, terminated)" 0
		expect alice '"event":"transfer_result".*"ok":true' "transfer_result ok" 0
		expect alice '"event":"call_ended".*"purpose":"consult".*"reason":"dialog: remote hung up"' "consultation ended by Carol (replaced)" 0
		expect bob '"event":"refer_received".*"attended":true.*"code":200' "refer_received with Replaces" 0
		expect bob '"event":"call_established".*"direction":"out".*"purpose":"referred"' "call_established (to Carol, replacing)" 5
		lin_expect "Call 2 with sip:bob@127\\.0\\.0\\.1:$bob_port connected" "Call 2 with Bob connected" 0
		lin_expect 'Call 1 with .* ended' "Call 1 (the consultation) ended" 0
		stop_linphone
		expect bob '"event":"call_ended".*"purpose":"referred".*"reason":"dialog: remote hung up"' "call_ended (Carol hung up)" 5
		stop_ua bob
		clean_stats alice bob
		;;
	*)
		fail "unknown case $name"
		;;
	esac
	# What linphonec said about its calls (its prompt taken off).
	sed 's/^\(linphonec> \)*//' "$dir/linphone.out" | grep -E '^(Call|Receiving|Establishing|Pausing|Resuming)' | sed 's/^/linphone: /' || true
	exit 0
fi

# ======================================================================
# The driver.
cd "$(dirname "$0")/../.."
CASES=${CASES:-transferee transferee-media blind-transferor attended-transferor attended-target}

root=$(mktemp -d)
case_pid=
cleanup() {
	[ -z "$case_pid" ] || kill -KILL "$case_pid" 2>/dev/null || true
	if [ -n "${KEEP:-}" ]; then echo "kept $root"; else rm -rf "$root"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

need_peer linphonec linphone-cli
# linphonec --pipe needs a /tmp of its own and the cases 5060: namespaces.
unshare -n -m true 2>/dev/null && command -v ip >/dev/null ||
	skip_or_fail "unshare -n -m does not work here (linphonec needs a private /tmp)"
command -v tshark >/dev/null || echo "$self: tshark is not installed: no capture, no SIP summary"
if [ -n "${CAPTURE:-}" ]; then
	mkdir -p "$CAPTURE"
	CAPTURE=$(cd "$CAPTURE" && pwd)
fi

began=$(date +%s.%N)
build_demo "$root/demo"
echo "$self: linphonec $(linphonec --version 2>&1 | sed -n 's/^version: //p'); demo ua ready in $(since "$began") s"

# sip_summary PCAP: one line per SIP message: time, ports, start line,
# and the fields a transfer turns on. tshark decodes 5072 as AYIYA unless
# told that those ports carry SIP.
sip_summary() {
	tshark -r "$1" -d udp.port==5060-5099,sip -d udp.port==20000-65535,sip -Y sip -T fields -E separator='|' \
		-e frame.time_relative -e udp.srcport -e udp.dstport -e sip.Request-Line -e sip.Status-Line \
		-e sip.CSeq -e sip.Event -e sip.Subscription-State -e sip.Refer-To -e sip.Replaces 2>/dev/null |
		awk -F'|' '{ line = sprintf("%6.3f %5s>%-5s %s%s [%s]", $1, $2, $3, $4, $5, $6)
			if ($7 != "") line = line " Event: " $7
			if ($8 != "") line = line " Subscription-State: " $8
			if ($9 != "") line = line " Refer-To: " $9
			if ($10 != "") line = line " Replaces: " $10
			print line }' || true
}

failed=0
passed=0
for c in $CASES; do
	dir=$root/$c
	mkdir -p "$dir"
	ln "$root/demo" "$dir/demo" 2>/dev/null || cp "$root/demo" "$dir/demo"
	start=$(date +%s.%N)
	case_run "$dir" unshare -n -m bash "$0" --case "$c" "$dir"
	elapsed=$(since "$start")
	if [ -s "$dir/case.pcap" ]; then
		[ -z "${CAPTURE:-}" ] || cp "$dir/case.pcap" "$CAPTURE/$c.pcap"
		sip_summary "$dir/case.pcap" | sed 's/^/  sip: /' >>"$dir/case.log"
	fi
	if [ "$case_rc" = 0 ]; then
		sed 's/^/  /' "$dir/case.log"
		echo "$self: $c: PASS ($elapsed s)"
		passed=$((passed + 1))
	else
		{
			sed 's/^/  /' "$dir/case.log"
			for f in "$dir"/*.out "$dir"/*.err; do
				[ -s "$f" ] || continue
				echo "---- $(basename "$f") (last 60 lines)"
				tail -n 60 "$f"
			done
		} >&2
		echo "$self: $c: FAIL: ${case_reason:-exit $case_rc} ($elapsed s)"
		failed=$((failed + 1))
	fi
done
echo "$self: $passed passed, $failed failed in $(since "$began") s"
[ "$failed" = 0 ]
