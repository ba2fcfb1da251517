#!/usr/bin/env bash
# Interop: digest authentication and registration against Debian's
# Kamailio (5.6) as registrar (usrloc in memory, no database) and
# authenticating, record-routing proxy, passwords in its configuration
# (pv_auth_check, auth_challenge: 401 to REGISTER, 407 to every other
# request but ACK and CANCEL, inside dialogs too). Every "demo ua" runs
# with -proxy, -auth-user and -auth-password; Bob and Carol -register.
#
#   register   Bob and Carol register with MD5 digest (401, then 200)
#   blind      Alice calls sip:bob@<proxy> (the AOR: the proxy looks the
#              Contact up), REFERs Bob to sip:carol@<proxy>; the INVITEs,
#              the REFER, the NOTIFYs and the BYEs are all challenged (407)
#              and retried once with credentials
#   attended   the same with a consultation call to Carol first and a
#              REFER with Replaces (RFC 5589 §7)
#   baresip    Frank, a baresip 1.0 softphone, registers with digest;
#              Alice calls his AOR and transfers him to Carol: baresip's
#              INVITE to Carol and its NOTIFYs are challenged and answered
#              (menu.so is what dials a REFER's target in baresip 1.0)
#   wrong      Dave registers with a wrong password: exit status 1, an
#              error naming the realm, exactly one retry on the wire
#   sha256     a second Kamailio challenging with SHA-256 (RFC 7616):
#              Eve registers through it
#
#   KEEP       if set, the temporary directory (logs) is kept
#
# Everything stays on 127.0.0.1 (Kamailio with dns=no); every process
# started is killed by PID on exit. Outside CI the script skips when
# Kamailio cannot be installed; in CI it fails.
set -euo pipefail
. "$(dirname "$0")/lib.bash"
cd "$(dirname "$0")/../.."
export LC_ALL=C

tmp=$(mktemp -d)
kam_pid=
kam2_pid=
alice_pid=
bob_pid=
carol_pid=
dave_pid=
eve_pid=
frank_pid=
cleanup() {
	kill_tree "$kam_pid" "$kam2_pid" "$alice_pid" "$bob_pid" "$carol_pid" "$dave_pid" "$eve_pid" "$frank_pid"
	if [ -n "${KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

began=$(date +%s)
need_peer kamailio kamailio
go build -o "$tmp/demo" ./cmd/demo

realm=sipxfer.test

# start_kamailio NAME ALGORITHM: a registrar and authenticating proxy on a
# free port, log in $tmp/NAME.log; sets NAME_pid and NAME_port. It logs
# "relay METHOD URI totag=TAG from=USER" for each request, "challenge
# METHOD from=USER code=RC" for each challenge and "authok METHOD USER".
start_kamailio() {
	free_port
	printf -v "${1}_port" %s "$port"
	kamailio_config "$1" "$port" ALGORITHM="$2" REALM="$realm" <<'EOF'
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
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "corex.so"
loadmodule "htable.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"

modparam("usrloc", "db_mode", 0)
modparam("auth", "algorithm", "@ALGORITHM@")
modparam("auth", "secret", "interop-secret")
modparam("htable", "htable", "users=>size=4;")

event_route[htable:mod-init] {
	$sht(users=>alice) = "alice-pw";
	$sht(users=>bob) = "bob-pw";
	$sht(users=>carol) = "carol-pw";
	$sht(users=>dave) = "dave-pw";
	$sht(users=>eve) = "eve-pw";
	$sht(users=>frank) = "frank-pw";
}

request_route {
	xlog("L_NOTICE", "relay $rm $ru totag=$tt from=$fU\n");
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (is_method("CANCEL")) {
		if (t_check_trans()) {
			t_relay();
		}
		exit;
	}
	if (!is_method("ACK")) {
		route(AUTH);
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
	if (is_method("REGISTER")) {
		save("location");
		exit;
	}
	remove_hf("Route");
	if (is_method("INVITE|REFER|SUBSCRIBE")) {
		record_route();
	}
	if (uri == myself) {
		if (!lookup("location")) {
			xlog("L_NOTICE", "notfound $ru\n");
			sl_send_reply("404", "Not Found");
			exit;
		}
	}
	t_relay();
}

# RFC 3261 §22: 401 for REGISTER, 407 for the rest (auth_challenge flag 1).
route[AUTH] {
	$var(pw) = $sht(users=>$au);
	if ($var(pw) == $null) {
		$var(pw) = "";
	}
	$var(rc) = pv_auth_check("@REALM@", "$var(pw)", "0", "1");
	if ($var(rc) < 0) {
		xlog("L_NOTICE", "challenge $rm from=$fU code=$var(rc)\n");
		auth_challenge("@REALM@", "1");
		exit;
	}
	xlog("L_NOTICE", "authok $rm $au\n");
	consume_credentials();
}

onreply_route {
	xlog("L_NOTICE", "reply $rs $rm\n");
}
EOF
	kamailio_start "$1" "$port"
}

start_kamailio kam MD5
proxy="sip:127.0.0.1:$kam_port;lr"
registrar="sip:127.0.0.1:$kam_port"
echo "$self: $(kamailio -v 2>&1 | head -n 1) on 127.0.0.1:$kam_port"

# logged FILE FROM PATTERN: lines of Kamailio's log FILE from line FROM
# on whose text after the timestamp matches the extended regex PATTERN.
logged() {
	tail -n +"$2" "$tmp/$1.log" | sed -n 's/.*\(relay .*\|challenge .*\|authok .*\|reply .*\|unrouted .*\|notfound .*\)$/\1/p' | grep -cE -- "$3" || true
}

case_failed=0
failed=0
# want FROM PATTERN MIN [MAX]: at least MIN (at most MAX) log lines of
# the MD5 Kamailio match PATTERN.
want() {
	local got
	got=$(logged kam "$1" "$2")
	if [ "$got" -lt "$3" ] || { [ -n "${4:-}" ] && [ "$got" -gt "$4" ]; }; then
		echo "  kamailio logged $got lines matching '$2', want ${4:+$3 to $4}${4:-at least $3}" >&2
		case_failed=1
	fi
}

# await_event WHO EVENT SECONDS: waits for WHO's output to show EVENT.
await_event() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -q "\"event\":\"$2\"" "$tmp/$1.out" && return 0
		sleep 0.1
	done
	echo "  $1 printed no $2 event within $3 s" >&2
	case_failed=1
	return 1
}

# report CASE FROM: PASS or FAIL, with the proxy's log on failure.
report() {
	if [ "$case_failed" = 0 ]; then
		echo "$self: $1: PASS"
	else
		echo "---- kamailio" >&2
		tail -n +"$2" "$tmp/kam.log" | sed -n 's/.*\(relay .*\|challenge .*\|authok .*\|reply .*\|unrouted .*\|notfound .*\)$/  \1/p' >&2
		for who in alice bob carol dave eve; do
			[ -s "$tmp/$who.out" ] || continue
			echo "---- $who" >&2
			tail -n 15 "$tmp/$who.out" "$tmp/$who.err" >&2
		done
		echo "$self: $1: FAIL"
		failed=$((failed + 1))
	fi
	case_failed=0
}

# register: Bob and Carol, challenged 401 once each.
from=1
start_demo bob -proxy "$proxy" -register "$registrar" -auth-user bob -auth-password bob-pw -duration 50s
SIPXFER_PASSWORD=carol-pw start_demo carol -proxy "$proxy" -register "$registrar" -auth-user carol -duration 50s
await_event bob registered 5 || true
await_event carol registered 5 || true
grep -q '"event":"registered","aor":"sip:bob@127.0.0.1","expires":[1-9]' "$tmp/bob.out" || { echo "  bob: no registered event with expires" >&2; case_failed=1; }
want "$from" "^challenge REGISTER from=bob code=-5$" 1 1
want "$from" "^authok REGISTER bob$" 1 1
want "$from" "^authok REGISTER carol$" 1 1
report register "$from"

bob_aor=sip:bob@127.0.0.1:$kam_port
carol_aor=sip:carol@127.0.0.1:$kam_port
for c in blind attended; do
	from=$(($(wc -l <"$tmp/kam.log") + 1))
	extra=()
	[ "$c" = attended ] && extra=(-attended)
	start_demo alice -proxy "$proxy" -auth-user alice -auth-password alice-pw -call "$bob_aor" \
		-transfer-to "$carol_aor" -max-calls 1 -duration 15s "${extra[@]}"
	rc=0
	wait_exit "$alice_pid" 20 || rc=$?
	alice_pid=
	cp "$tmp/alice.out" "$tmp/$c.alice.out"
	[ "$rc" = 0 ] || { echo "  alice exited with status $rc" >&2; case_failed=1; }
	grep -qE '"event":"transfer_result".*"ok":true,"refer_code":200,"code":200,' "$tmp/alice.out" ||
		{ echo "  alice reports no successful transfer" >&2; case_failed=1; }
	# Each request challenged once (no credentials yet, rc -5), then
	# accepted: never a second challenge.
	want "$from" "^challenge INVITE from=alice code=-5$" 1 2
	want "$from" "^authok INVITE alice$" 1 2
	want "$from" "^challenge REFER from=alice code=-5$" 1 1
	want "$from" "^authok REFER alice$" 1 1
	want "$from" "^challenge NOTIFY from=bob code=-5$" 2
	want "$from" "^authok NOTIFY bob$" 2
	want "$from" "^challenge INVITE from=bob code=-5$" 1 1 # the transferee's INVITE to Carol
	want "$from" "^authok INVITE bob$" 1 1
	want "$from" "^challenge BYE from=alice code=-5$" 1
	want "$from" "^authok BYE alice$" 1
	want "$from" "^challenge [A-Z]+ from=[a-z]+ code=-[^5]" 0 0
	want "$from" "^unrouted " 0 0
	report "$c" "$from"
done

# baresip: Frank, a baresip 1.0 softphone, registers with digest to the
# same Kamailio; Alice calls him by his AOR (her INVITE challenged) and
# transfers him to Carol: baresip's own INVITE to Carol and its NOTIFYs
# cross the proxy and are challenged, and it answers from its auth_pass.
if BARESIP=$(command -v baresip); then
	from=$(($(wc -l <"$tmp/kam.log") + 1))
	free_port
	frank_port=$port
	mkdir -p "$tmp/frank"
	printf '%s\n' "poll_method epoll" "sip_listen 127.0.0.1:$frank_port" "net_interface 127.0.0.1" \
		"dns_server 127.0.0.1:53" "audio_player aubridge,nil" "audio_source aubridge,nil" \
		"audio_alert aubridge,nil" "statmode_default off" "ringback_disabled yes" \
		"module_path ${BARESIP_MODULES:-/usr/lib/baresip/modules}" "module g711.so" "module aubridge.so" \
		"module_tmp account.so" "module_app menu.so" >"$tmp/frank/config"
	echo "<sip:frank@127.0.0.1:$kam_port>;auth_pass=frank-pw;regint=600;answermode=auto;audio_codecs=pcmu;call_transfer=yes" \
		>"$tmp/frank/accounts"
	"$BARESIP" -f "$tmp/frank" -s -t 30 </dev/null >"$tmp/frank.out" 2>&1 &
	frank_pid=$!
	for ((i = 0; i < 50; i++)); do
		[ "$(logged kam "$from" "^authok REGISTER frank$")" -ge 1 ] && break
		sleep 0.1
	done
	start_demo alice -proxy "$proxy" -auth-user alice -auth-password alice-pw -call "sip:frank@127.0.0.1:$kam_port" \
		-transfer-to "$carol_aor" -max-calls 1 -duration 15s
	rc=0
	wait_exit "$alice_pid" 20 || rc=$?
	alice_pid=
	[ "$rc" = 0 ] || { echo "  alice exited with status $rc" >&2; case_failed=1; }
	grep -qE '"event":"transfer_result".*"ok":true,"refer_code":202,"code":200,' "$tmp/alice.out" ||
		{ echo "  alice reports no successful transfer by baresip" >&2; case_failed=1; }
	want "$from" "^authok REGISTER frank$" 1
	want "$from" "^authok INVITE alice$" 1
	want "$from" "^authok INVITE frank$" 1 # baresip's INVITE to Carol
	want "$from" "^authok NOTIFY frank$" 1
	kill -TERM "$frank_pid" 2>/dev/null || true
	wait "$frank_pid" 2>/dev/null || true
	frank_pid=
	[ "$case_failed" = 0 ] || tail -n 60 "$tmp/frank.out" >&2
	report baresip "$from"
elif [ -n "${CI:-}" ]; then
	echo "$self: baresip: FAIL (baresip is not installed)"
	failed=$((failed + 1))
fi

# wrong: Dave's password is wrong: one REGISTER, its retry, no more.
from=$(($(wc -l <"$tmp/kam.log") + 1))
start_demo dave -proxy "$proxy" -register "$registrar" -auth-user dave -auth-password not-dave-pw -duration 10s
rc=0
wait_exit "$dave_pid" 15 || rc=$?
dave_pid=
[ "$rc" = 1 ] || { echo "  dave exited with status $rc, want 1" >&2; case_failed=1; }
grep -q "$realm" "$tmp/dave.err" || { echo "  dave's error does not name realm $realm" >&2; case_failed=1; }
grep -q '"event":"registration_failed".*"status":401' "$tmp/dave.out" || { echo "  dave: no registration_failed with status 401" >&2; case_failed=1; }
want "$from" "^relay REGISTER .* from=dave$" 2 2
want "$from" "^challenge REGISTER from=dave code=-5$" 1 1
want "$from" "^challenge REGISTER from=dave code=-2$" 1 1
report wrong "$from"

# sha256: a Kamailio challenging with SHA-256 only.
start_kamailio kam2 SHA-256
start_demo eve -register "sip:127.0.0.1:$kam2_port" -auth-user eve -auth-password eve-pw -duration 20s
await_event eve registered 5 || true
c2=$(logged kam2 1 "^authok REGISTER eve$")
[ "$c2" = 1 ] || { echo "  the SHA-256 Kamailio accepted $c2 REGISTERs from eve, want 1" >&2; case_failed=1; }
report sha256 1

# Exit: Bob, Carol and Eve unregister (Expires: 0, challenged too).
from=$(($(wc -l <"$tmp/kam.log") + 1))
kill -TERM "$bob_pid" "$carol_pid" "$eve_pid"
for who in bob carol eve; do
	pid_var=${who}_pid
	wait_exit "${!pid_var}" 10 || { echo "  $who exited with a failure" >&2; case_failed=1; }
	printf -v "$pid_var" %s ""
done
want "$from" "^authok REGISTER (bob|carol)$" 2 2
report unregister "$from"

kamailio_stop kam
kamailio_stop kam2

echo "$self: done in $(($(date +%s) - began)) s"
[ "$failed" = 0 ] || fail "$failed cases failed"
echo "$self: ok"
