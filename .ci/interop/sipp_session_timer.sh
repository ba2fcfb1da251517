#!/usr/bin/env bash
# Interop: session timers (RFC 4028) between SIPp and "demo ua
# -session-expires 90s" (dialog.Config.SessionExpires). Scenarios in
# .ci/interop/sipp/st_*.xml; SIPp checks every header named below.
#   uas-422   SIPp calls our UA asking for 60 s: 422 with Min-SE: 90
#             (§8.1); again with 90 s (CSeq 2): 200 with Session-Expires:
#             90;refresher=uac and Require: timer (§9); an UPDATE refresh
#             (RFC 3311): 200 with Session-Expires; SIPp hangs up
#   uac-422   our UA calls SIPp asking for 90 s; SIPp's 422 names Min-SE:
#             120; the UA sends the INVITE again with Session-Expires and
#             Min-SE 120 (§7.3), gets 200 and hangs up
#   refresh   our UA calls SIPp, which grants 90 s with refresher=uac; the
#             UA re-INVITEs with Session-Expires: 90;refresher=uac at half
#             the interval (§10: checked between 40 and 50 s after the 200),
#             SIPp answers 200, and the UA hangs up after -hold 55s
#   expiry    SIPp grants 90 s with refresher=uas and never refreshes; the
#             UA ends the call with BYE at 90 - min(32, 90/3) = 60 s
#             (checked between 55 and 70 s), reason "dialog: session expired"
# refresh and expiry run side by side: about 60 s in all. Each SIPp call
# must succeed, each UA exit 0 with no call failed.
#
# Everything stays on 127.0.0.1; every process started here is killed by
# PID and the temporary directory removed on exit, failure included.
set -euo pipefail
. "$(dirname "$0")/lib.bash"
cd "$(dirname "$0")/../.."

scenarios=$PWD/.ci/interop/sipp
# Each SIPp run, of one call (-m 1), may take the longest case (expiry:
# about 60 s) and some more before it fails.
TIMEOUT=100
need_peer sipp sip-tester

tmp=$(mktemp -d)
trap sipp_cleanup EXIT
trap 'exit 1' INT TERM

# SIPp runs are named after their case with .sipp: the demo runs of a case
# share its name, and their files must not collide. They log every message
# ($tmp/NAME.sipp.msg), which the refresh and uac-422 cases count.

# sipp_uas NAME SCENARIO: SIPp plays SCENARIO as a server on a free port of
# 127.0.0.1; sets NAME_sipp and NAME_sport.
sipp_uas() {
	sipp_listen "$1.sipp" udp -sf "$scenarios/$2" -m 1 -trace_msg -message_file "$tmp/$1.sipp.msg"
	printf -v "${1}_sipp" %s "$sipp_pid"
	printf -v "${1}_sport" %s "$sipp_port"
}

# sipp_done NAME PID: waits for SIPp PID (at most 100 s) and fails unless
# its one call succeeded.
sipp_done() {
	local rc=0
	wait_exit "$2" 100 || rc=$?
	sipp_stats "$1.sipp" || true
	sipp_verdict "$1" "$1.sipp" "$rc" 1 "$tmp/$1.sipp.out" "$tmp/$1.err"
}

# ua_done WHO: waits for demo WHO to exit by itself (at most 100 s), which
# must be with status 0.
ua_done() {
	local rcvar="${1}_rc"
	wait_demo "$1" 100
	[ "${!rcvar}" = 0 ] || { tail -n 20 "$tmp/$1.err" >&2; fail "$1: demo ua exited with status ${!rcvar}"; }
}

# seconds FROM TO: TO - FROM, one decimal.
seconds() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.1f", e - s }'; }

# within X LO HI: whether LO <= X <= HI.
within() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'; }

began=$(date +%s)
go build -o "$tmp/demo" ./cmd/demo

# uas-422: SIPp calls us.
start_demo uas -session-expires 90s -duration 30s
sipp_start uas-422.sipp -sf "$scenarios/st_uas_422.xml" -s bob -m 1 -trace_msg -message_file "$tmp/uas-422.sipp.msg" \
	"127.0.0.1:$uas_port"
sipp_done uas-422 "$sipp_pid"
grep -q '"event":"call_ended".*"reason":"dialog: remote hung up"' "$tmp/uas.out" || { cat "$tmp/uas.out" >&2; fail "uas-422: no call ended by SIPp's BYE"; }
kill -TERM "$uas_pid"
ua_done uas
echo "$self: uas-422: PASS (422 with Min-SE 90 to 60 s; 200 with 90;refresher=uac and Require: timer; UPDATE refresh 200)"

# uac-422: we call SIPp, which wants 120 s.
sipp_uas uac422 st_uac_422.xml
start_demo uac422 -session-expires 90s -call "sip:bob@127.0.0.1:$uac422_sport" -duration 30s
sipp_done uac422 "$uac422_sipp"
ua_done uac422
n=$(grep -c '^INVITE ' "$tmp/uac422.sipp.msg" || true)
[ "$n" = 2 ] || fail "uac-422: SIPp got $n INVITEs, want 2"
echo "$self: uac-422: PASS (INVITE again with Session-Expires and Min-SE 120 after the 422, answered 200)"

# refresh and expiry, side by side.
sipp_uas refresh st_refresh.xml
sipp_uas expiry st_expiry.xml
start_demo refresh -session-expires 90s -call "sip:bob@127.0.0.1:$refresh_sport" -hold 55s -duration 100s
start_demo expiry -session-expires 90s -call "sip:bob@127.0.0.1:$expiry_sport" -hold 90s -duration 100s
refresh_ok= expiry_ok= refresh_at= expiry_at=
for ((i = 0; i < 1000; i++)); do
	now=$(date +%s.%N)
	[ -z "$refresh_ok" ] && grep -q '"event":"call_established"' "$tmp/refresh.out" && refresh_ok=$now
	[ -z "$expiry_ok" ] && grep -q '"event":"call_established"' "$tmp/expiry.out" && expiry_ok=$now
	[ -z "$refresh_at" ] && [ "$(grep -c '^INVITE ' "$tmp/refresh.sipp.msg" 2>/dev/null || true)" -ge 2 ] && refresh_at=$now
	[ -z "$expiry_at" ] && grep -q '"event":"call_ended"' "$tmp/expiry.out" && expiry_at=$now
	[ -n "$refresh_at" ] && [ -n "$expiry_at" ] && break
	kill -0 "$refresh_pid" 2>/dev/null || kill -0 "$expiry_pid" 2>/dev/null || break
	sleep 0.1
done
[ -n "$refresh_ok" ] && [ -n "$refresh_at" ] || fail "refresh: no refresh re-INVITE (established: ${refresh_ok:-no})"
[ -n "$expiry_ok" ] && [ -n "$expiry_at" ] || fail "expiry: the call did not end (established: ${expiry_ok:-no})"
refresh_after=$(seconds "$refresh_ok" "$refresh_at")
expiry_after=$(seconds "$expiry_ok" "$expiry_at")
within "$refresh_after" 40 50 || fail "refresh: re-INVITE $refresh_after s after the 200, want about 45"
within "$expiry_after" 55 70 || fail "expiry: BYE $expiry_after s after the 200, want about 60"
grep -q '"event":"call_ended".*"reason":"dialog: session expired"' "$tmp/expiry.out" || { cat "$tmp/expiry.out" >&2; fail "expiry: call_ended without the session-expired reason"; }
sipp_done refresh "$refresh_sipp"
sipp_done expiry "$expiry_sipp"
ua_done refresh
ua_done expiry
echo "$self: refresh: PASS (re-INVITE with 90;refresher=uac $refresh_after s after the 200, answered; BYE after -hold)"
echo "$self: expiry: PASS (no refresh from SIPp: BYE $expiry_after s after the 200, reason session expired)"
echo "$self: ok in $(($(date +%s) - began)) s"
