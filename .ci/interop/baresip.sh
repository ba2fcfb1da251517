#!/usr/bin/env bash
# Interop: call transfer (REFER, RFC 3515) between "demo ua" and a real
# softphone, Debian's baresip (1.0.0), run headless and driven over its
# ctrl_tcp socket (netstring-framed JSON).
#
#   call-out      our UA calls baresip (auto-answer), holds 1 s, hangs up
#   call-in       baresip dials our UA (ctrl_tcp "dial"), then hangs up
#   transfer-a    baresip is the transferee: Alice (our UA) calls Bob
#                 (baresip) and REFERs him to Carol (our UA); Alice must
#                 see 202 and NOTIFYs up to a final 200, Carol a call from
#                 Bob
#   transfer-a-norefersub, transfer-a-out-of-dialog, transfer-a-attended
#                 the same with -norefersub (baresip ignores it: Alice must
#                 take its NOTIFYs), -out-of-dialog (baresip answers 501)
#                 and -attended (baresip 1.0.0 has no Replaces: Carol
#                 answers its INVITE 400); the last two must fail cleanly
#   transfer-b    baresip is the transferor: Alice (baresip) calls Bob (our
#                 UA) and transfers him (ctrl_tcp "transfer") to Carol (our
#                 UA); Bob must take the REFER, call Carol and notify
#                 Alice up to a final 200, Carol must get Bob's call
#   transfer-b-rfc3515, transfer-b-declined
#                 the same with Bob answering the REFER 202 (-rfc3515), and
#                 declining it 603 (-accept-refer=false: nobody calls Carol)
#
# baresip's known deviations (shared/PEERS.md) are tolerated: a bare
# addr-spec Refer-To, a sipfrag ending in a bare LF, no Referred-By.
#
#   CASES         the cases to run, in order (default: all of the above)
#   CASE_TIMEOUT  seconds one case may take before it is killed (default 30)
#   NETNS         1 runs each case in a network namespace of its own (unshare
#                 -n, lo only), 0 on the host's 127.0.0.1; default: 1 when
#                 unshare -n works
#   CAPTURE       a directory: each case's loopback traffic is captured
#                 there with tshark (CASE.pcap) and, on failure, its SIP
#                 summarised
#   DEMO          a demo binary to use instead of building ./cmd/demo
#   BARESIP       the baresip binary (default: baresip on PATH)
#   BARESIP_MODULES  its module directory (default /usr/lib/baresip/modules)
#
# Everything stays on 127.0.0.1; every process a case starts is killed by
# PID when it ends, failure and timeout included, and the temporary
# directory is removed on exit. One line per case says PASS or FAIL; the
# script exits 1 if any case failed, 0 (with a SKIP line) when baresip
# cannot be had outside CI.
set -euo pipefail
. "$(dirname "$0")/lib.bash"
export LC_ALL=C

CASE_TIMEOUT=${CASE_TIMEOUT:-30}
BARESIP_MODULES=${BARESIP_MODULES:-/usr/lib/baresip/modules}
modules=(g711 aubridge account menu ctrl_tcp)

say() { echo "$self: $*"; }

# ======================================================================
# A case: bash baresip.sh --case NAME DIR, run by the driver below under
# timeout (and unshare -n). It writes its reason for failing to DIR/reason.
if [ "${1:-}" = --case ]; then
	name=$2
	case_begin "$3" # lib.bash: the case's files in $dir, fail, cleanup
	BARESIP=${BARESIP:-baresip}
	[ "${BARESIP_NETNS:-0}" = 1 ] && ip link set lo up

	# port_free PORT: nothing bound to PORT, over UDP or TCP, on IPv4.
	port_free() {
		local hex
		hex=$(printf ':%04X ' "$1")
		! grep -q "$hex" /proc/net/udp /proc/net/tcp
	}

	# start_baresip WHO: a headless baresip for user WHO, with its own
	# config directory; sets bs_port (SIP, UDP and TCP; TLS takes
	# bs_port+1), bs_ctrl (ctrl_tcp) and bs_pid once it is up: ready, its
	# account loaded, its SIP port bound and its ctrl_tcp answering. It
	# registers nowhere (regint=0) and quits by itself after the case's
	# time (-t).
	start_baresip() {
		local who=$1 try i conf=$dir/baresip-$1
		mkdir -p "$conf"
		for try in 1 2 3 4 5; do
			bs_port=$((20000 + RANDOM % 20000))
			bs_ctrl=$((bs_port + 2))
			port_free "$bs_port" && port_free "$((bs_port + 1))" && port_free "$bs_ctrl" || continue
			cat >"$conf/config" <<-EOF
				poll_method		epoll
				sip_listen		127.0.0.1:$bs_port
				net_interface		127.0.0.1
				dns_server		127.0.0.1:53
				call_local_timeout	20
				call_max_calls		4
				audio_player		aubridge,nil
				audio_source		aubridge,nil
				audio_alert		aubridge,nil
				statmode_default	off
				ringback_disabled	yes
				module_path		$BARESIP_MODULES
				module			g711.so
				module			aubridge.so
				module_tmp		account.so
				module_app		menu.so
				module_app		ctrl_tcp.so
				ctrl_tcp_listen		127.0.0.1:$bs_ctrl
			EOF
			echo "<sip:$who@127.0.0.1:$bs_port>;regint=0;answermode=auto;audio_codecs=pcmu;call_transfer=yes" >"$conf/accounts"
			# -s traces every SIP message it sends and receives to stdout.
			"$BARESIP" -f "$conf" -s -t "$CASE_TIMEOUT" </dev/null >"$dir/$who.baresip" 2>&1 &
			bs_pid=$!
			started "$bs_pid"
			for ((i = 0; i < 50; i++)); do
				kill -0 "$bs_pid" 2>/dev/null || break
				if grep -q '^baresip is ready' "$dir/$who.baresip" &&
					! port_free "$bs_port" && ! port_free "$bs_ctrl"; then
					grep -q '^Populated 1 account' "$dir/$who.baresip" || fail "baresip ($who) loaded no account: $(grep -i account "$dir/$who.baresip")"
					ctrl_open "$who"
					return 0
				fi
				sleep 0.1
			done
			kill -KILL "$bs_pid" 2>/dev/null || true
			wait "$bs_pid" 2>/dev/null || true
		done
		fail "baresip ($who) did not start: $(tail -n 5 "$dir/$who.baresip")"
	}

	# ctrl_open WHO: connects to baresip's ctrl_tcp on fd 3; a background
	# cat copies what it sends (netstrings: command responses and events)
	# to WHO.ctrl. Proves the socket answers with a harmless command.
	ctrl_open() {
		exec 3<>"/dev/tcp/127.0.0.1/$bs_ctrl" || fail "baresip ($1): cannot connect to ctrl_tcp 127.0.0.1:$bs_ctrl"
		ctrl_log=$dir/$1.ctrl
		: >"$ctrl_log"
		cat <&3 >>"$ctrl_log" &
		started $!
		ctrl reginfo reginfo "" 5 >/dev/null
	}

	# ctrl TOKEN COMMAND PARAMS [SECONDS]: sends COMMAND (a menu command,
	# e.g. dial, transfer, hangup, reginfo) as a netstring and waits for
	# its response; prints it. Fails unless it says ok.
	ctrl() {
		local token=$1 json
		json=$(printf '{"command":"%s","params":"%s","token":"%s"}' "$2" "$3" "$token")
		printf '%d:%s,' "${#json}" "$json" >&3
		wait_for "$ctrl_log" "\"response\":true[^}]*\"token\":\"$token\"" "${4:-5}" ||
			fail "baresip: no answer to ctrl_tcp $2 within ${4:-5} s"
		grep -qE "\"response\":true,\"ok\":true[^}]*\"token\":\"$token\"" "$ctrl_log" ||
			fail "baresip: ctrl_tcp $2 failed: $(grep -oE "\{\"response\":true[^}]*\"token\":\"$token\"\}" "$ctrl_log")"
		grep -oE "\{\"response\":true[^}]*\"token\":\"$token\"\}" "$ctrl_log"
	}

	# bs_event TYPE [SECONDS]: waits for a baresip event of TYPE.
	bs_event() {
		wait_for "$ctrl_log" "\"event\":true,\"type\":\"$1\"" "${2:-10}"
	}

	# sip_ladder WHO: one line per SIP message in baresip WHO's trace
	# (-s), to WHO.ladder and the log: "<" received, ">" sent, then the
	# start line, CSeq, Event, Subscription-State, Refer-To, Referred-By
	# and a sipfrag body's status line.
	sip_ladder() {
		awk -v me="127.0.0.1:$bs_port" '
			function flush() {
				if (start == "") return
				out = dir " " start
				for (i = 1; i <= nh; i++) out = out " | " h[i]
				if (frag != "") out = out " | sipfrag: " frag
				print out
			}
			{ sub(/\r$/, "") }
			/^\033\[36;1m#/ { inrec = 1; hdr = 0; next }
			inrec && /^\033\[;m/ { flush(); inrec = 0; next }
			!inrec { next }
			hdr == 0 {
				# "UDP 127.0.0.1:A -> 127.0.0.1:B"
				dir = ($4 == me) ? "<" : ">"
				start = ""; nh = 0; frag = ""; body = 0; sipfrag = 0; hdr = 1; next
			}
			hdr == 1 { start = $0; hdr = 2; next }
			body { if (sipfrag && frag == "" && $0 != "") frag = $0; next }
			$0 == "" { body = 1; next }
			tolower($0) ~ /^content-type: *message\/sipfrag/ { sipfrag = 1 }
			tolower($0) ~ /^(cseq|event|subscription-state|refer-to|referred-by|refer-sub|target-dialog):/ { h[++nh] = $0 }
		' "$dir/$1.baresip" >"$dir/$1.ladder"
		sed "s/^/$1 (baresip): /" "$dir/$1.ladder"
	}

	[ -z "${CAPTURE:-}" ] || capture "$CAPTURE/$name.pcap" 'udp or tcp'

	# transfer_a VARIANT: baresip is the transferee. Carol (our UA)
	# answers; Bob is baresip; Alice (our UA) calls Bob, REFERs him to
	# Carol, and hangs up after the final NOTIFY. VARIANT:
	#   blind           in the call's dialog; must work
	#   norefersub      with Refer-Sub: false, which baresip ignores (its
	#                   202 has no Refer-Sub): Alice must take the NOTIFYs
	#                   it sends anyway (RFC 4488 §4), and the transfer works
	#   out-of-dialog   outside the dialog with Target-Dialog: baresip
	#                   answers 501; Alice must fail the transfer cleanly
	#   attended        Replaces in the Refer-To: baresip 1.0.0 has none and
	#                   calls the Refer-To URI with its headers in the
	#                   Request-URI; Carol answers 400, Alice must fail the
	#                   transfer cleanly and end both her calls
	transfer_a() {
		local variant=$1 args=()
		case $variant in
		blind) ;;
		norefersub) args=(-norefersub) ;;
		out-of-dialog) args=(-out-of-dialog) ;;
		attended) args=(-attended) ;;
		*) fail "unknown case transfer-a-$variant" ;;
		esac
		ua carol -duration 25s
		start_baresip bob
		local bob_uri="sip:bob@127.0.0.1:$bs_port" carol_uri="sip:carol@127.0.0.1:$carol_port"
		ua alice -call "$bob_uri" -transfer-to "$carol_uri" "${args[@]}" -duration 20s
		ua_exit alice 15
		sip_ladder bob
		grep -E '"event":"(refer_|notify|transfer_)' "$dir/alice.out" | sed 's/^/alice: /'
		expect alice '"event":"call_established".*"direction":"out"' "call_established (to Bob)" 0
		expect alice "\"event\":\"refer_sent\".*\"refer_to\":\"[^\"]*$carol_uri" "refer_sent to Carol" 0
		case $variant in
		blind | norefersub)
			expect alice '"event":"refer_response".*"code":202' "refer_response 202" 0
			expect alice '"event":"notify".*"code":200.*"state":"terminated' "final NOTIFY (sipfrag 200, terminated)" 0
			expect alice '"event":"transfer_result".*"ok":true' "transfer_result ok" 0
			[ "$alice_rc" = 0 ] || fail "alice (demo ua) exited with status $alice_rc"
			expect carol "\"event\":\"call_incoming\".*\"from\":\"[^\"]*sip:bob@127\\.0\\.0\\.1:$bs_port" "call_incoming from Bob (baresip)" 5
			expect carol '"event":"call_established".*"direction":"in"' "call_established (from Bob)" 5
			bs_event TRANSFER 0 || fail "baresip reported no TRANSFER event"
			grep -qE '^< REFER ' "$dir/bob.ladder" || fail "baresip's trace shows no REFER received"
			grep -qE '^> SIP/2.0 202 .*CSeq: [0-9]+ REFER' "$dir/bob.ladder" || fail "baresip's trace shows no 202 to the REFER"
			if [ "$variant" = norefersub ]; then
				grep -qE '^< REFER .*Refer-Sub: false' "$dir/bob.ladder" || fail "the REFER had no Refer-Sub: false"
				expect alice '"event":"transfer_result".*"no_subscription":false' "transfer_result with a subscription" 0
			fi
			# Bob (baresip) ends the call to Carol: she must see it end.
			ctrl hangup hangup ""
			expect carol '"event":"call_ended".*"reason":"dialog: remote hung up"' "call_ended (Bob hung up)" 5
			;;
		out-of-dialog)
			expect alice '"event":"refer_sent".*"out_of_dialog":true' "refer_sent out of dialog" 0
			expect alice '"event":"refer_response".*"code":501' "refer_response 501 (baresip: out-of-dialog REFER)" 0
			expect alice '"event":"transfer_result".*"ok":false.*"refer_code":501' "transfer_result failed with 501" 0
			[ "$alice_rc" = 1 ] || fail "alice (demo ua) exited with status $alice_rc, not 1 (transfer failed)"
			no_event carol '"event":"call_incoming"' "call (baresip answered 501 and should call no one)"
			;;
		attended)
			expect alice '"event":"call_established".*"purpose":"consult"' "consultation established" 0
			expect alice '"event":"refer_sent".*"attended":true' "refer_sent with Replaces" 0
			expect alice '"event":"refer_response".*"code":202' "refer_response 202" 0
			expect alice '"event":"notify".*"code":400.*"state":"terminated' "final NOTIFY with Carol's 400" 0
			expect alice '"event":"transfer_result".*"ok":false.*"code":400' "transfer_result failed with 400" 0
			expect alice '"event":"call_ended".*"purpose":"consult"' "consultation ended" 0
			[ "$alice_rc" = 1 ] || fail "alice (demo ua) exited with status $alice_rc, not 1 (transfer failed)"
			grep -qE '^> INVITE sip:carol@[^ ]*\?Replaces=' "$dir/bob.ladder" ||
				fail "baresip's INVITE to Carol no longer carries the Refer-To headers in its Request-URI: has it learnt Replaces?"
			grep -qE '^< SIP/2.0 400 .*CSeq: [0-9]+ INVITE' "$dir/bob.ladder" || fail "Carol did not answer baresip's INVITE 400"
			expect carol '"event":"call_ended".*"reason":"dialog: remote hung up"' "call_ended (the consultation)" 5
			;;
		esac
		expect alice '"event":"call_ended".*"direction":"out","reason"' "call_ended (Alice hangs up the call to Bob)" 0
		bs_event CALL_CLOSED 5 || fail "baresip reported no CALL_CLOSED"
		stop_ua carol
		if [ "$variant" = attended ]; then
			# Carol's transport counts baresip's INVITE (and the ACK of
			# its 400) as parse errors: headers in the Request-URI.
			parse_errors_ok=carol
		fi
		clean_stats alice carol
	}

	# transfer_b VARIANT: baresip is the transferor. Bob and Carol (our
	# UAs) answer; Alice is baresip: she dials Bob, then transfers him to
	# Carol (ctrl_tcp "transfer"). baresip sends a bare addr-spec
	# Refer-To and no Referred-By. VARIANT:
	#   blind      Bob answers 200 (RFC 7647 §5), calls Carol and notifies
	#              Alice up to the final 200; baresip then hangs up
	#   rfc3515    Bob answers the REFER 202 (RFC 3515 §2.4.2): the same
	#   declined   Bob declines with 603: baresip reports TRANSFER_FAILED
	#              (and hangs up all the same); nobody calls Carol
	transfer_b() {
		local variant=$1 args=()
		case $variant in
		blind) ;;
		rfc3515) args=(-rfc3515) ;;
		declined) args=(-accept-refer=false) ;;
		*) fail "unknown case transfer-b-$variant" ;;
		esac
		ua bob -duration 25s "${args[@]}"
		ua carol -duration 25s
		start_baresip alice
		local bob_uri="sip:bob@127.0.0.1:$bob_port" carol_uri="sip:carol@127.0.0.1:$carol_port"
		ctrl dial dial "$bob_uri"
		expect bob '"event":"call_established".*"direction":"in"' "call_established (from Alice, baresip)" 5
		bs_event CALL_ESTABLISHED 5 || fail "baresip reported no CALL_ESTABLISHED"
		ctrl transfer transfer "$carol_uri"
		if [ "$variant" = declined ]; then
			expect bob "\"event\":\"refer_refused\".*\"code\":603" "refer_refused 603" 5
			bs_event TRANSFER_FAILED 5 || fail "baresip reported no TRANSFER_FAILED"
			grep -o '{"event":true,"type":"TRANSFER_FAILED"[^}]*}' "$ctrl_log"
			# baresip 1.0.0 hangs up after a failed transfer too.
			expect bob '"event":"call_ended".*"reason":"dialog: remote hung up"' "call_ended (Alice hung up)" 5
			sip_ladder alice
			grep -qE '^< SIP/2.0 603 .*CSeq: [0-9]+ REFER' "$dir/alice.ladder" || fail "baresip's trace shows no 603 to its REFER"
			no_event bob '"purpose":"referred"' "call to Carol"
			no_event carol '"event":"call_incoming"' "call"
			stop_ua bob
			stop_ua carol
			clean_stats bob carol
			return 0
		fi
		local code=200
		[ "$variant" = rfc3515 ] && code=202
		expect bob "\"event\":\"refer_received\".*\"refer_to\":\"[^\"]*$carol_uri.*\"code\":$code" "refer_received (to Carol, answered $code)" 5
		expect bob '"event":"call_established".*"direction":"out".*"purpose":"referred"' "call_established (to Carol)" 5
		expect carol "\"event\":\"call_incoming\".*\"from\":\"[^\"]*sip:bob@" "call_incoming from Bob" 5
		expect carol '"event":"call_established".*"direction":"in"' "call_established (from Bob)" 5
		# baresip hangs up once a NOTIFY says 200 OK.
		expect bob '"event":"call_ended".*"reason":"dialog: remote hung up"' "call_ended (Alice hung up after the transfer)" 5
		bs_event CALL_CLOSED 5 || fail "baresip reported no CALL_CLOSED"
		sip_ladder alice
		grep -E '"event":"refer_' "$dir/bob.out" | sed 's/^/bob: /'
		grep -qE '^> REFER .*Refer-To: ' "$dir/alice.ladder" || fail "baresip's trace shows no REFER sent"
		grep -qE "^< SIP/2.0 $code .*CSeq: [0-9]+ REFER" "$dir/alice.ladder" || fail "baresip's trace shows no $code to its REFER"
		grep -qE '^< NOTIFY .*Subscription-State: terminated.*sipfrag: SIP/2.0 200' "$dir/alice.ladder" ||
			fail "baresip's trace shows no final NOTIFY (terminated, sipfrag 200) from Bob"
		grep -qE '^> SIP/2.0 200 .*CSeq: [0-9]+ NOTIFY' "$dir/alice.ladder" || fail "baresip's trace shows no 200 to a NOTIFY"
		if grep -E '^> SIP/2.0 [3-6][0-9][0-9] .*CSeq: [0-9]+ NOTIFY' "$dir/alice.ladder"; then
			fail "baresip refused a NOTIFY of Bob's"
		fi
		# Bob hangs up the call to Carol at exit: she must see it end.
		stop_ua bob
		expect carol '"event":"call_ended".*"reason":"dialog: remote hung up"' "call_ended (Bob hung up)" 5
		stop_ua carol
		clean_stats bob carol
		[ "$(ua_stat bob referred_calls_established)" = 1 ] || fail "bob: referred_calls_established is not 1"
	}

	case $name in
	call-out)
		start_baresip bob
		ua alice -call "sip:bob@127.0.0.1:$bs_port" -hold 1s -duration 20s
		ua_exit alice 15
		expect alice '"event":"call_established".*"direction":"out"' "call_established"
		expect alice '"event":"call_ended".*"reason":"dialog: local hang-up"' "call_ended (local hang-up)"
		[ "$alice_rc" = 0 ] || fail "alice (demo ua) exited with status $alice_rc"
		bs_event CALL_ESTABLISHED 1 || fail "baresip reported no CALL_ESTABLISHED"
		bs_event CALL_CLOSED 5 || fail "baresip reported no CALL_CLOSED"
		echo "alice: $(grep '"event":"stats"' "$dir/alice.out")"
		;;
	call-in)
		ua bob -duration 20s
		start_baresip alice
		ctrl dial dial "sip:bob@127.0.0.1:$bob_port"
		expect bob '"event":"call_established".*"direction":"in"' "call_established"
		bs_event CALL_ESTABLISHED 5 || fail "baresip reported no CALL_ESTABLISHED"
		ctrl hangup hangup ""
		expect bob '"event":"call_ended".*"reason":"dialog: remote hung up"' "call_ended (remote hung up)" 5
		bs_event CALL_CLOSED 5 || fail "baresip reported no CALL_CLOSED"
		stop_ua bob
		echo "bob: $(grep '"event":"stats"' "$dir/bob.out")"
		;;
	transfer-a) transfer_a blind ;;
	transfer-a-*) transfer_a "${name#transfer-a-}" ;;
	transfer-b) transfer_b blind ;;
	transfer-b-*) transfer_b "${name#transfer-b-}" ;;
	*)
		fail "unknown case $name"
		;;
	esac
	exit 0
fi

# ======================================================================
# The driver.
cd "$(dirname "$0")/../.."
CASES=${CASES:-call-out call-in transfer-a transfer-a-norefersub transfer-a-out-of-dialog transfer-a-attended
	transfer-b transfer-b-rfc3515 transfer-b-declined}

tmp=$(mktemp -d)
case_pid=
cleanup() {
	[ -z "$case_pid" ] || kill -KILL "$case_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ -z "${BARESIP:-}" ]; then
	need_peer baresip baresip-core
	BARESIP=$(command -v baresip)
fi
export BARESIP BARESIP_MODULES CASE_TIMEOUT
for m in "${modules[@]}"; do
	[ -f "$BARESIP_MODULES/$m.so" ] || skip_or_fail "baresip module $BARESIP_MODULES/$m.so is missing"
done

if [ -z "${NETNS:-}" ]; then
	NETNS=0
	unshare -n true 2>/dev/null && command -v ip >/dev/null && NETNS=1
fi

if [ -n "${CAPTURE:-}" ]; then
	command -v tshark >/dev/null || { say "CAPTURE needs tshark (apt-get install -y tshark)"; exit 1; }
	mkdir -p "$CAPTURE"
	CAPTURE=$(cd "$CAPTURE" && pwd)
	export CAPTURE
fi

began=$(date +%s.%N)
build_demo "$tmp/demo"
say "$("$BARESIP" -h 2>&1 | head -n 1 || true); demo ua ready in $(since "$began") s; netns=$NETNS"

# dump DIR: what a failed case left, for the log.
dump() {
	local f
	for f in "$1"/*.out "$1"/*.err "$1"/*.ctrl "$1"/*.baresip; do
		[ -s "$f" ] || continue
		echo "---- $(basename "$f") (last 150 lines)"
		tail -n 150 "$f" | tr -d '\033' | tr '\r' '\n'
		echo
	done
	if [ -n "${CAPTURE:-}" ] && [ -s "$CAPTURE/$(basename "$1").pcap" ]; then
		echo "---- SIP on lo ($CAPTURE/$(basename "$1").pcap)"
		tshark -r "$CAPTURE/$(basename "$1").pcap" -Y sip -T fields -e frame.time_relative \
			-e udp.srcport -e udp.dstport -e sip.Request-Line -e sip.Status-Line 2>/dev/null || true
	fi
}

failed=0
passed=0
for c in $CASES; do
	dir=$tmp/$c
	mkdir -p "$dir"
	ln "$tmp/demo" "$dir/demo" 2>/dev/null || cp "$tmp/demo" "$dir/demo"
	start=$(date +%s.%N)
	cmd=(bash "$0" --case "$c" "$dir")
	if [ "$NETNS" = 1 ]; then
		cmd=(env BARESIP_NETNS=1 unshare -n "${cmd[@]}")
	fi
	case_run "$dir" "${cmd[@]}"
	elapsed=$(since "$start")
	if [ "$case_rc" = 0 ]; then
		sed 's/^/  /' "$dir/case.log"
		# A case whose success is a failure status says which.
		case $c in
		transfer-a-out-of-dialog) expected="expected 501 to the REFER; " ;;
		transfer-a-attended) expected="expected 400 from Carol to the INVITE with Replaces; " ;;
		transfer-b-declined) expected="expected 603 Declined to the REFER; " ;;
		*) expected= ;;
		esac
		say "$c: PASS ($expected$elapsed s)"
		passed=$((passed + 1))
	else
		{
			sed 's/^/  /' "$dir/case.log"
			dump "$dir"
		} >&2
		say "$c: FAIL: ${case_reason:-exit $case_rc} ($elapsed s)"
		failed=$((failed + 1))
	fi
done
say "done in $(since "$began") s"
echo "baresip: $passed passed, $failed failed"
[ "$failed" = 0 ]
