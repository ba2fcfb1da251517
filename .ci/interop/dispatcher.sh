#!/usr/bin/env bash
# Interop: scale-out behind Kamailio's dispatcher (issue 18; docs/SCALING.md).
# Debian's Kamailio (5.6) balances a service address, sip:USER@127.0.0.1:K,
# over three identical "demo ua" instances on 127.0.0.1 (ua1, ua2, ua3):
# dispatcher list from a file, no database; a new request to the service
# address goes to ds_select_dst by Call-ID hash (algorithm 0); INVITE, REFER
# and SUBSCRIBE are record-routed, so every request inside a dialog reaches
# the instance that owns it; OPTIONS probing every second marks a dead
# instance down. The transferor ("alice") is a "demo ua -call" outside the
# pool that sends through the proxy (-proxy); the instances also send their
# requests outside a dialog (the transferee's call to the Refer-To target)
# through it, so a target named by the service address lands on any instance.
#
#   blind          ROUNDS transfers: alice calls sip:bob@service (hashed to an
#                  instance), REFERs it to sip:carol@service (hashed again);
#                  all must end 200, and at least one target call must land
#                  on an instance other than its transferee's
#   attended       ROUNDS attended transfers (-attended): the consultation to
#                  sip:carol@service lands by hash, the Refer-To names that
#                  instance's Contact with a Replaces (what demo ua sends)
#   attended-svc   the same, but the Refer-To names the service address, as
#                  many phones do: the INVITE with Replaces has a new Call-ID,
#                  and the proxy routes it by the Call-ID inside Replaces
#                  (dispatcher algorithm 7 over $var(replaces_callid)) to the
#                  instance holding the replaced call (demo ua -refer-to-uri
#                  sip:svc@SERVICE)
#   replaces-hash  the control: the same with the Replaces-blind Call-ID hash
#                  (Refer-To user "plain", which the proxy hashes as usual):
#                  attempts until one INVITE with Replaces lands on an
#                  instance that does not hold the call and gets 481
#   kill           calls held across the kill of ua3 (KILL), with session
#                  timers (RFC 4028, 90 s, the holder refreshing): once
#                  probing marks ua3 down, new transfers all go to ua1 and
#                  ua2 and succeed; the held calls on ua1 and ua2 are
#                  refreshed at 45 s and stay up until their holder is
#                  stopped (their BYEs answered); those on ua3 have their
#                  refresh answered 408 by the proxy 32 s later, and the
#                  holder ends them with BYE within the 90 s interval;
#                  transfers started across the kill (4/s for 5 s) all
#                  get their outcome, failed only if their transferee was
#                  on ua3 (about 80 s of the run's time)
#   burst          BURST_UAS transferors at once, BURST_CALLS blind transfers
#                  each at BURST_RATE/s: every transfer must have its
#                  transfer_result (ok or not, but not "cancelled" by the
#                  UA's exit after BURST_DURATION s), none left hanging. A
#                  NOTIFY lost under load is noticed by the transferor's
#                  probe 60 s after the last NOTIFY (refer.Config.ProbeAfter),
#                  hence a BURST_DURATION above 60 s; the default burst
#                  (450/s offered) ends in a few seconds when none is lost
#   throughput     not in the default CASES: basic calls (INVITE, ACK, BYE)
#                  through the proxy with 1, 2, then 3 instances in the list,
#                  TP_SECONDS of calls at each of TP_RATES/s; prints calls/s
#                  established and the CPU of the proxy and the instances
#                  (docs/SCALING.md)
#
#   CASES          cases to run (default: all but throughput)
#   ROUNDS         transfers per blind/attended case (default 8)
#   BURST_UAS, BURST_CALLS, BURST_RATE, BURST_DURATION (default 3, 150, 150, 70)
#   TP_RATES       offered calls/s to try, each with 1, 2, 3 instances (1000)
#   TP_SECONDS     seconds of calls at each (default 3); TP_CHILDREN (2)
#   KEEP           if set, the temporary directory (logs) is kept
#
# Default run: 95 s on a quiet machine (80 s of it the kill case waiting
# for session timers), about 140 s at load average 7. Worst
# cases are bounded: each transferor by its -duration (burst: BURST_DURATION),
# the probing wait by 25 s, the kill case's wait for session timers by
# 100 s, each demo by wait_exit.
#
# Everything stays on 127.0.0.1 (Kamailio with dns=no, listening there
# only); every process started is killed by PID on exit. Outside CI the
# script skips when Kamailio cannot be installed; in CI it fails.
set -euo pipefail
. "$(dirname "$0")/lib.bash"
cd "$(dirname "$0")/../.."
export LC_ALL=C

CASES=${CASES:-blind attended attended-svc replaces-hash burst kill}
ROUNDS=${ROUNDS:-8}
BURST_UAS=${BURST_UAS:-3}
BURST_CALLS=${BURST_CALLS:-150}
BURST_RATE=${BURST_RATE:-150}
BURST_DURATION=${BURST_DURATION:-70}
TP_RATES=${TP_RATES:-1000}
TP_SECONDS=${TP_SECONDS:-3}
TP_CHILDREN=${TP_CHILDREN:-2}

tmp=$(mktemp -d)
kam_pid=
ua_pids=()    # the instances (killed ones are emptied)
extra_pids=() # transferors and callers
cleanup() {
	kill_tree "$kam_pid" "${ua_pids[@]}" "${extra_pids[@]}"
	if [ -n "${KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

began=$(date +%s)
need_peer kamailio kamailio
go build -o "$tmp/demo" ./cmd/demo

free_port
kam_port=$port
svc=127.0.0.1:$kam_port
proxy="sip:$svc;lr"

# The instances, each sending through the proxy.
for i in 1 2 3; do
	start_demo "ua$i" -proxy "$proxy" -session-expires 90s -duration 600s
	ua_pids[i]=$(eval echo "\$ua${i}_pid")
done
ua_port=("" "$ua1_port" "$ua2_port" "$ua3_port")

# write_config CHILDREN: the proxy's configuration in $tmp/kamailio.cfg, its
# dispatcher list (set 1) in $tmp/dispatcher.list, written by the caller.
write_config() {
	sed -e "s/@PORT@/$kam_port/g" -e "s|@LIST@|$tmp/dispatcher.list|" -e "s/@CHILDREN@/$1/" >"$tmp/kamailio.cfg" <<'EOF'
#!KAMAILIO
debug=2
log_stderror=yes
children=@CHILDREN@
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
loadmodule "dispatcher.so"

# 2 s without an answer fails a probe (OPTIONS) and, with t_set_fr below, an
# initial request to an instance (then failover); requests inside a dialog
# get the UAs' own Timer F, 64*T1 = 32 s (RFC 3261 §17.1.2.2), so a proxy
# does not answer 408 while the UAs are still retransmitting.
modparam("tm", "fr_timer", 2000)
modparam("tm", "fr_inv_timer", 30000)
modparam("dispatcher", "list_file", "@LIST@")
# Flag 2: ds_select_dst keeps the other destinations of the set for
# ds_next_dst (without it the failure route's failover does nothing).
modparam("dispatcher", "flags", 2)
# OPTIONS to every instance each second; two unanswered in a row mark it
# down (one would empty the set under a burst), two answered mark it up.
modparam("dispatcher", "ds_ping_interval", 1)
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_probing_threshold", 2)
modparam("dispatcher", "ds_inactive_threshold", 2)
modparam("dispatcher", "ds_ping_from", "sip:balancer@127.0.0.1:@PORT@")
# Algorithm 7 hashes this variable: the Call-ID inside a Replaces header.
modparam("dispatcher", "hash_pvar", "$var(replaces_callid)")

request_route {
	xlog("L_NOTICE", "relay $rm $ru ci=$ci\n");
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (has_totag()) {
		# Inside a dialog: the Route its Record-Route made names us and
		# then the owning instance's Contact is the Request-URI.
		if (loose_route()) {
			t_set_fr(0, 32000);
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
	# Not the service address (an instance's own Contact, as an attended
	# Refer-To names it): relay to the Request-URI.
	if (!uri == myself) {
		t_set_fr(0, 32000);
		t_relay();
		exit;
	}
	if (is_method("INVITE") && is_present_hf("Replaces") && $rU != "plain") {
		# RFC 3891: the replaced dialog lives where its INVITE went, which
		# the hash of its Call-ID chose; hash the same Call-ID again.
		$var(replaces_callid) = $(hdr(Replaces){s.select,0,;});
		if (!ds_select_dst("1", "7")) {
			sl_send_reply("503", "No Instance");
			exit;
		}
		xlog("L_NOTICE", "replaces-route $var(replaces_callid) to $du\n");
	} else if (!ds_select_dst("1", "0")) {
		sl_send_reply("503", "No Instance");
		exit;
	}
	xlog("L_NOTICE", "dispatch $rm ci=$ci to $du\n");
	t_set_fr(0, 4000);
	t_on_failure("FAILOVER");
	t_relay();
}

# An instance that does not answer in time: the next one in the set, unless
# the request names a dialog there (Replaces) or the caller gave up.
failure_route[FAILOVER] {
	if (t_is_canceled()) {
		exit;
	}
	if (t_check_status("408") && !is_present_hf("Replaces") && ds_next_dst()) {
		xlog("L_NOTICE", "failover $rm ci=$ci to $du\n");
		t_on_failure("FAILOVER");
		t_relay();
	}
}

event_route[dispatcher:dst-down] {
	xlog("L_NOTICE", "dst-down $ru\n");
}

event_route[dispatcher:dst-up] {
	xlog("L_NOTICE", "dst-up $ru\n");
}
EOF
}

# start_kamailio N CHILDREN: the proxy with the first N instances.
start_kamailio() {
	local i
	: >"$tmp/dispatcher.list"
	for ((i = 1; i <= $1; i++)); do
		echo "1 sip:127.0.0.1:${ua_port[i]} 0 0" >>"$tmp/dispatcher.list"
	done
	write_config "$2"
	kamailio_start kamailio "$kam_port" -m 128 -M 8
	kam_pid=$kamailio_pid
}

stop_kamailio() {
	kamailio_stop kamailio
	kam_pid=
}

# run_alice WHO TIMEOUT ARGS...: a "demo ua" caller through the proxy, run
# to its end; its status in alice_rc.
run_alice() {
	local who=$1 timeout=$2 pid
	shift 2
	start_demo "$who" -proxy "$proxy" -duration "${timeout}s" "$@"
	pid=$(eval echo "\$${who}_pid")
	extra_pids+=("$pid")
	alice_rc=0
	wait_exit "$pid" "$((timeout + 5))" || alice_rc=$?
}

# owner CALLID: the instance (1 to 3) that received the call CALLID, or 0.
owner() {
	local i
	for i in 1 2 3; do
		if grep -F "\"call_id\":\"$1\"" "$tmp/ua$i.out" | grep -q '"event":"call_incoming"'; then
			echo "$i"
			return
		fi
	done
	echo 0
}

# relayed_count FROM PATTERN: the lines the proxy's script logged from line
# FROM of its log on which the extended regex PATTERN matches.
relayed_count() {
	tail -n +"$1" "$tmp/kamailio.log" | sed -n 's/.*<script>: //p' | grep -cE -- "$2" || true
}

# consult_cross FROM: how many attended REFERs received by the instances
# (their output from line FROM on, an array per instance) were about a call
# on one instance while their Replaces named a call on another.
consult_cross() {
	local i id cross=0
	local -a start=($1)
	for i in 1 2 3; do
		for id in $(tail -n +"${start[i - 1]}" "$tmp/ua$i.out" | grep '"event":"refer_received".*"attended":true' | sed -n 's/.*?Replaces=\([^%;>]*\).*/\1/p'); do
			[ "$(owner "$id")" = "$i" ] || cross=$((cross + 1))
		done
	done
	echo "$cross"
}

# cpu_ticks PID...: the user and system CPU time, in clock ticks, the
# processes PID... have used so far (0 for one that is gone).
cpu_ticks() {
	local pid total=0 stat
	for pid in "$@"; do
		[ -n "$pid" ] || continue
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		stat=${stat##*) }
		set -- $stat
		total=$((total + ${12} + ${13}))
	done
	echo "$total"
}

# held_end CALLID: the call_ended event of held call CALLID (kill case),
# empty while it is up.
held_end() {
	cat "$tmp/held.out" "$tmp/held3.out" | grep '"event":"call_ended"' | grep -F "\"call_id\":\"$1\"" || true
}

# field NAME: the string field NAME of the JSON lines on stdin.
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }

note() { echo "  $*" >&2; }

failed=0
n=0
for c in $CASES; do
	n=$((n + 1))
	case_start=$(date +%s.%N)
	case_failed=0
	detail=
	if [ "$c" = throughput ]; then
		[ -z "$kam_pid" ] || stop_kamailio
	elif [ -z "$kam_pid" ]; then
		start_kamailio 3 2
		echo "$self: $(kamailio -v 2>&1 | head -n 1) on $svc, instances on ports ${ua_port[*]:1}"
	fi
	from=1
	[ ! -e "$tmp/kamailio.log" ] || from=$(($(wc -l <"$tmp/kamailio.log") + 1))
	from_ua="$(for i in 1 2 3; do echo $(($(wc -l <"$tmp/ua$i.out") + 1)); done | tr '\n' ' ')"
	case $c in
	blind)
		run_alice alice 30 -call "sip:bob@$svc" -transfer-to "sip:carol@$svc" -max-calls "$ROUNDS" -call-rate 20
		[ "$alice_rc" = 0 ] || { note "alice exited with status $alice_rc"; case_failed=1; }
		ok=$(grep -cE '"event":"transfer_result".*"ok":true,"refer_code":200,"code":200,' "$tmp/alice.out" || true)
		[ "$ok" = "$ROUNDS" ] || { note "$ok of $ROUNDS transfers ended 200"; case_failed=1; }
		# Which instance placed each referred call, and which took it.
		cross=0
		start=($from_ua)
		for i in 1 2 3; do
			for id in $(tail -n +"${start[i - 1]}" "$tmp/ua$i.out" | grep '"event":"call_established".*"direction":"out".*"purpose":"referred"' | field call_id); do
				[ "$(owner "$id")" = "$i" ] || cross=$((cross + 1))
			done
		done
		[ "$cross" -ge 1 ] || { note "no target call landed on another instance than its transferee"; case_failed=1; }
		detail="$ok of $ROUNDS ok, $cross with target on another instance"
		cp "$tmp/alice.out" "$tmp/$c.alice.out"
		;;
	attended)
		run_alice alice 40 -attended -call "sip:bob@$svc" -transfer-to "sip:carol@$svc" -max-calls "$ROUNDS" -call-rate 20
		[ "$alice_rc" = 0 ] || { note "alice exited with status $alice_rc"; case_failed=1; }
		ok=$(grep -cE '"event":"transfer_result".*"ok":true,"refer_code":200,"code":200,' "$tmp/alice.out" || true)
		[ "$ok" = "$ROUNDS" ] || { note "$ok of $ROUNDS transfers ended 200"; case_failed=1; }
		cross=$(consult_cross "$from_ua")
		[ "$cross" -ge 1 ] || { note "no consultation landed on another instance than its transferee"; case_failed=1; }
		detail="$ok of $ROUNDS ok, $cross with the consultation on another instance"
		cp "$tmp/alice.out" "$tmp/$c.alice.out"
		;;
	attended-svc)
		run_alice svcrefer 40 -attended -refer-to-uri "sip:svc@$svc" -call "sip:bob@$svc" -transfer-to "sip:carol@$svc" -max-calls "$ROUNDS" -call-rate 20
		[ "$alice_rc" = 0 ] || { note "alice exited with status $alice_rc"; case_failed=1; }
		ok=$(grep -cE '"event":"transfer_result".*"ok":true,"refer_code":200,"code":200,' "$tmp/svcrefer.out" || true)
		[ "$ok" = "$ROUNDS" ] || { note "$ok of $ROUNDS transfers ended 200"; case_failed=1; }
		routed=$(relayed_count "$from" 'replaces-route ')
		[ "$routed" = "$ROUNDS" ] || { note "the proxy routed $routed INVITEs by Replaces, want $ROUNDS"; case_failed=1; }
		# The Refer-To the transferee got named the service address.
		svc_refer=$(cat "$tmp"/ua?.out | grep '"event":"refer_received"' | grep -cF "\"refer_to\":\"<sip:svc@$svc?" || true)
		[ "$svc_refer" -ge "$ROUNDS" ] || { note "$svc_refer REFERs named the service address, want $ROUNDS"; case_failed=1; }
		cross=$(consult_cross "$from_ua")
		[ "$cross" -ge 1 ] || { note "no consultation landed on another instance than its transferee"; case_failed=1; }
		detail="$ok of $ROUNDS ok, $routed INVITEs with Replaces routed by the Call-ID inside it, $cross with the consultation on another instance"
		;;
	replaces-hash)
		got481=0
		tries=0
		while [ "$got481" = 0 ] && [ "$tries" -lt 8 ]; do
			tries=$((tries + 1))
			run_alice plainrefer 20 -attended -refer-to-uri "sip:plain@$svc" -call "sip:bob@$svc" -transfer-to "sip:carol@$svc" -max-calls 1
			if grep -qE '"event":"transfer_result".*"code":481' "$tmp/plainrefer.out"; then
				got481=1
				# The INVITE with Replaces went to an instance that does not
				# hold the consultation.
				consult=$(grep '"event":"call_established".*"purpose":"consult"' "$tmp/plainrefer.out" | field call_id)
				holder=$(owner "$consult")
				landed=0
				for i in 1 2 3; do
					grep '"event":"call_incoming"' "$tmp/ua$i.out" | grep -qF "\"replaces\":\"$consult\"" && landed=$i
				done
				[ "$landed" != 0 ] && [ "$landed" != "$holder" ] || { note "481 but the INVITE with Replaces reached ua$landed, the consultation is on ua$holder"; case_failed=1; }
				detail="expected 481: hashed by its own Call-ID to ua$landed, the replaced call is on ua$holder (attempt $tries)"
			elif grep -qE '"event":"transfer_result".*"ok":true' "$tmp/plainrefer.out"; then
				: # hashed to the holder by chance: try again
			else
				note "attempt $tries: neither 200 nor 481"
				cat "$tmp/plainrefer.out" >&2
				case_failed=1
				break
			fi
		done
		[ "$got481" = 1 ] || { note "no 481 in $tries attempts"; case_failed=1; }
		;;
	kill)
		# Held calls across the kill, all with session timers (90 s, the
		# holder refreshing) and held far longer than the case: 6 through
		# the service address (hashed) and 2 to ua3's own address through
		# the proxy, so that some are surely on ua3.
		st=(-session-expires 90s -hold 300s -duration 300s -call-rate 50)
		start_demo held -proxy "$proxy" "${st[@]}" -call "sip:bob@$svc" -max-calls 6
		extra_pids+=("$held_pid")
		start_demo held3 -proxy "$proxy" "${st[@]}" -call "sip:bob@127.0.0.1:${ua_port[3]}" -max-calls 2
		extra_pids+=("$held3_pid")
		for ((k = 0; k < 50; k++)); do
			[ "$(cat "$tmp/held.out" "$tmp/held3.out" | grep -c '"event":"call_established"' || true)" -ge 8 ] && break
			sleep 0.1
		done
		held_at=$(date +%s.%N)
		held_ids=$(cat "$tmp/held.out" "$tmp/held3.out" | grep '"event":"call_established"' | field call_id)
		[ "$(echo "$held_ids" | wc -w)" = 8 ] || { note "$(echo "$held_ids" | wc -w) of 8 held calls established"; case_failed=1; }
		# Transfers in flight across the kill: 4 a second for 5 s.
		start_demo streamer -proxy "$proxy" -session-expires 90s -duration 100s -call "sip:bob@$svc" -transfer-to "sip:carol@$svc" -max-calls 20 -call-rate 4
		extra_pids+=("$streamer_pid")
		for ((k = 0; k < 50; k++)); do
			grep -q '"event":"refer_sent"' "$tmp/streamer.out" && break
			sleep 0.1
		done
		kill -KILL "${ua_pids[3]}"
		{ wait "${ua_pids[3]}"; } 2>/dev/null || true # reaped quietly
		ua_pids[3]=
		killed_at=$(date +%s.%N)
		for ((k = 0; k < 250; k++)); do
			[ "$(relayed_count "$from" "dst-down sip:127.0.0.1:${ua_port[3]}$")" -ge 1 ] && break
			sleep 0.1
		done
		down_after=$(since "$killed_at")
		[ "$(relayed_count "$from" "dst-down sip:127.0.0.1:${ua_port[3]}$")" -ge 1 ] || { note "probing did not mark ua3 down within 25 s"; case_failed=1; }
		# Transfers started once it is down touch only ua1 and ua2.
		mark=$(($(wc -l <"$tmp/kamailio.log") + 1))
		run_alice newcalls 30 -call "sip:bob@$svc" -transfer-to "sip:carol@$svc" -max-calls 6 -call-rate 20
		[ "$alice_rc" = 0 ] || { note "new transfers: exited with status $alice_rc"; case_failed=1; }
		ok=$(grep -cE '"event":"transfer_result".*"ok":true,"refer_code":200,"code":200,' "$tmp/newcalls.out" || true)
		[ "$ok" = 6 ] || { note "$ok of 6 transfers after the kill ended 200"; case_failed=1; }
		to3=$(relayed_count "$mark" "to sip:127.0.0.1:${ua_port[3]}$")
		[ "$to3" = 0 ] || { note "$to3 requests dispatched to the dead instance after it was marked down"; case_failed=1; }
		# RFC 4028 §10: the holder refreshes each call at 45 s. On ua1
		# and ua2 the refresh is answered and the call goes on; on ua3 the
		# proxy answers it 408 after 32 s and the holder ends the call,
		# with a BYE, within the 90 s interval. Wait for those (at most
		# 100 s after set-up), then stop the holders: they hang up the
		# live calls, whose BYEs must be answered.
		live=()
		dead=()
		for id in $held_ids; do
			if [ "$(owner "$id")" = 3 ]; then dead+=("$id"); else live+=("$id"); fi
		done
		dead_at=
		deadline=$(awk -v s="$held_at" 'BEGIN { printf "%d", s + 100 }')
		while [ "$(date +%s)" -lt "$deadline" ]; do
			gone=0
			for id in "${dead[@]}"; do
				[ -n "$(held_end "$id")" ] && gone=$((gone + 1))
			done
			[ "$gone" = "${#dead[@]}" ] && { dead_at=$(date +%s.%N); break; }
			sleep 0.2
		done
		dead_after=$(since "$held_at")
		[ -z "$dead_at" ] || dead_after=$(awk -v s="$held_at" -v e="$dead_at" 'BEGIN { printf "%.1f", e - s }')
		[ -n "$dead_at" ] || { note "the calls on ua3 did not all end within 100 s"; case_failed=1; }
		awk -v x="$dead_after" 'BEGIN { exit !(x <= 90) }' || { note "calls on ua3 ended $dead_after s after they were set up, over the 90 s interval"; case_failed=1; }
		for id in "${dead[@]}"; do
			end=$(held_end "$id")
			echo "$end" | grep -q '"reason":"[^"]*408' || { note "call $id on ua3 did not end on its refresh's 408: ${end:-not ended}"; case_failed=1; }
			[ "$(relayed_count "$from" "^relay BYE .* ci=$id$")" -ge 1 ] || { note "call $id on ua3: no BYE"; case_failed=1; }
		done
		for id in "${live[@]}"; do
			if [ -n "$(held_end "$id")" ]; then
				note "call $id on a live instance ended before the holder was stopped"
				case_failed=1
			fi
		done
		# Every transfer in flight across the kill has its outcome by
		# now; one that failed had its transferee on ua3.
		wait_exit "$streamer_pid" 30 || true
		streamed=$(grep -c '"event":"call_established","call_id":"[^"]*","direction":"out"}' "$tmp/streamer.out" || true)
		outcomes=$(grep -c '"event":"transfer_result"' "$tmp/streamer.out" || true)
		[ "$streamed" -ge 1 ] && [ "$outcomes" = "$streamed" ] || { note "transfers across the kill: $outcomes outcomes for $streamed calls"; case_failed=1; }
		stream_ok=$(grep -c '"event":"transfer_result".*"ok":true' "$tmp/streamer.out" || true)
		for id in $(grep '"event":"transfer_result".*"ok":false' "$tmp/streamer.out" | field call_id); do
			[ "$(owner "$id")" = 3 ] || { note "transfer of $id failed, its transferee on ua$(owner "$id"): $(grep -F "\"call_id\":\"$id\"" "$tmp/streamer.out" | grep transfer_result)"; case_failed=1; }
		done
		kill -TERM "$held_pid" "$held3_pid" 2>/dev/null || true
		wait_exit "$held_pid" 10 || true
		wait_exit "$held3_pid" 10 || true
		on_live=0
		for id in "${live[@]}"; do
			end=$(held_end "$id")
			refreshes=$(relayed_count "$from" "^relay INVITE .* ci=$id$")
			if ! echo "$end" | grep -q '"reason":"dialog: local hang-up"' || echo "$end" | grep -q '"bye_error"' || [ "$refreshes" -lt 2 ]; then
				note "call $id on a live instance: $refreshes INVITEs, ended: ${end:-no}"
				case_failed=1
			else
				on_live=$((on_live + 1))
			fi
		done
		[ "$on_live" -ge 1 ] || { note "no held call on ua1 or ua2"; case_failed=1; }
		detail="ua3 marked down $down_after s after the kill; $outcomes transfers across it all with an outcome ($stream_ok ok, the others had their transferee on ua3); 6 transfers after it ok on ua1/ua2; ${#live[@]} held calls on ua1/ua2 refreshed and up until stopped; the ${#dead[@]} on ua3 ended by their holder $dead_after s after set-up (refresh answered 408; interval 90 s)"
		;;
	burst)
		bpids=()
		for ((b = 1; b <= BURST_UAS; b++)); do
			start_demo "burst$b" -proxy "$proxy" -duration "${BURST_DURATION}s" -call "sip:bob@$svc" -transfer-to "sip:carol@$svc" \
				-max-calls "$BURST_CALLS" -call-rate "$BURST_RATE"
			bpids+=("$(eval echo "\$burst${b}_pid")")
			extra_pids+=("${bpids[-1]}")
		done
		total=0
		results=0
		okn=0
		for ((b = 1; b <= BURST_UAS; b++)); do
			wait_exit "${bpids[b - 1]}" "$((BURST_DURATION + 5))" || true
			est=$(grep '"event":"call_established"' "$tmp/burst$b.out" | grep -vc '"purpose"' || true)
			# One cut short by the exit (-duration) is no outcome.
			res=$(grep '"event":"transfer_result"' "$tmp/burst$b.out" | grep -vc '"cancelled":true' || true)
			okb=$(grep -c '"event":"transfer_result".*"ok":true' "$tmp/burst$b.out" || true)
			[ "$res" = "$est" ] || { note "burst$b: $est calls established, $res transfer results"; case_failed=1; }
			total=$((total + est))
			results=$((results + res))
			okn=$((okn + okb))
		done
		detail="$total transfers, $results outcomes ($okn ok)"
		;;
	throughput)
		for TP_RATE in $TP_RATES; do
		TP_CALLS=$((TP_RATE * TP_SECONDS))
		for inst in 1 2 3; do
			start_kamailio "$inst" "$TP_CHILDREN"
			sleep 1.5 # the first probes answered
			kam0=$(cpu_ticks "$kam_pid" $(pgrep -P "$kam_pid"))
			ua0=$(cpu_ticks "${ua_pids[@]:1:inst}")
			t0=$(date +%s.%N)
			run_alice "tp${inst}_$TP_RATE" 120 -call "sip:bob@$svc" -max-calls "$TP_CALLS" -call-rate "$TP_RATE" -hold 0
			secs=$(awk -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
			kam1=$(cpu_ticks "$kam_pid" $(pgrep -P "$kam_pid"))
			ua1=$(cpu_ticks "${ua_pids[@]:1:inst}")
			est=$(grep -c '"event":"call_established"' "$tmp/tp${inst}_$TP_RATE.out" || true)
			hz=$(getconf CLK_TCK)
			echo "$self: throughput: $inst instance(s): $est of $TP_CALLS calls established in $secs s, $(awk -v n="$est" -v s="$secs" 'BEGIN { printf "%.0f", n / s }') calls/s (offered $TP_RATE/s, status $alice_rc); CPU over the run: kamailio $(awk -v t=$((kam1 - kam0)) -v h="$hz" -v s="$secs" 'BEGIN { printf "%.0f%%", 100 * t / h / s }'), instances $(awk -v t=$((ua1 - ua0)) -v h="$hz" -v s="$secs" 'BEGIN { printf "%.0f%%", 100 * t / h / s }'), load average $(cut -d' ' -f1 /proc/loadavg)"
			stop_kamailio
		done
		done
		;;
	*) fail "unknown case $c" ;;
	esac
	[ "$c" = throughput ] || [ "$(relayed_count "$from" '^unrouted ')" = 0 ] || { note "the proxy could not route a request inside a dialog"; case_failed=1; }

	elapsed=$(awk -v s="$case_start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
	if [ "$case_failed" = 0 ]; then
		echo "$self: $c: PASS ($elapsed s${detail:+; $detail})"
	else
		echo "---- proxy log" >&2
		tail -n +"$from" "$tmp/kamailio.log" | grep -E 'relay |dispatch |replaces-route|failover|dst-|unrouted|ERROR' | tail -n 40 >&2 || true
		echo "$self: $c: FAIL ($elapsed s${detail:+; $detail})"
		failed=$((failed + 1))
	fi
done

# SIGTERM: Kamailio's main process stops its workers; the instances exit.
[ -z "$kam_pid" ] || stop_kamailio
for i in 1 2 3; do
	[ -n "${ua_pids[i]}" ] || continue
	kill -TERM "${ua_pids[i]}"
	wait_exit "${ua_pids[i]}" 10 || true
	ua_pids[i]=
done

echo "$self: $((n - failed)) of $n cases passed in $(($(date +%s) - began)) s"
[ "$failed" = 0 ] || fail "$failed cases failed"
echo "$self: ok"
