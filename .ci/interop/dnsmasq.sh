#!/usr/bin/env bash
# Interop: RFC 3263 server location (package locate) against a real DNS
# server, Debian's dnsmasq, serving NAPTR, SRV, A and AAAA records for
# names under .test on 127.0.0.1. internal/cmd/sipresolve prints the
# targets of each URI, one a line ("udp 127.0.0.1:5070 pri.example.test"),
# and each case compares them with the order RFC 3263 and RFC 2782 give:
#
#   naptr          NAPTR for UDP, TCP and TLS by order, each through SRV
#                  records of two priorities (RFC 3263 §4.1)
#   naptr-sips     a SIPS URI keeps only SIPS+D2T (§4.1)
#   naptr-tcp-only the caller has only TCP: the other services are dropped
#   transport      transport=tcp and no port: SRV for TCP only (§4.2)
#   port           an explicit port: A/AAAA only (§4.2)
#   a-only         no NAPTR, no SRV: A at 5060 over UDP (§4.2)
#   srv-only       no NAPTR: SRV for _sip._udp, _sip._tcp, _sips._tcp (§4.1)
#   truncated      30 SRV records: dnsmasq truncates the UDP answer (TC,
#                  checked with dig) and the client asks again over TCP
#   nxdomain       a name that does not exist: exit 1, "no such domain"
#   numeric        an IP address: no DNS query at all (dnsmasq's log)
#
#   TIMEOUT        seconds the whole run may take (default 60)
#   KEEP           if set, the temporary directory (logs) is kept
#
# It runs in a network namespace of its own (unshare -n, lo only), so
# dnsmasq listens where nothing else can reach; dnsmasq is killed by PID
# on exit. Outside CI the script skips when dnsmasq cannot be installed or
# unshare -n does not work; in CI it fails.
set -euo pipefail
. "$(dirname "$0")/lib.bash"
export LC_ALL=C

# ======================================================================
# Inside the namespace: bash dnsmasq.sh --inner DIR.
if [ "${1:-}" = --inner ]; then
	tmp=$2
	ip link set lo up
	dns_pid=
	trap '[ -z "$dns_pid" ] || kill -KILL "$dns_pid" 2>/dev/null || true' EXIT
	port=5353
	{
		echo "naptr-record=example.test,10,10,s,SIP+D2U,,_sip._udp.example.test"
		echo "naptr-record=example.test,20,10,s,SIP+D2T,,_sip._tcp.example.test"
		echo "naptr-record=example.test,30,10,s,SIPS+D2T,,_sips._tcp.example.test"
		echo "naptr-record=example.test,5,10,s,SIP+D2S,,_sip._sctp.example.test"
		echo "srv-host=_sip._udp.example.test,sec.example.test,5071,20,0"
		echo "srv-host=_sip._udp.example.test,pri.example.test,5070,10,0"
		echo "srv-host=_sip._tcp.example.test,pri.example.test,5072,10,0"
		echo "srv-host=_sips._tcp.example.test,pri.example.test,5073,10,0"
		echo "srv-host=_sip._sctp.example.test,pri.example.test,5074,10,0"
		echo "host-record=pri.example.test,127.0.0.1,::1"
		echo "host-record=sec.example.test,127.0.0.2"
		echo "host-record=example.test,127.0.0.4"
		echo "host-record=aonly.example.test,127.0.0.3"
		echo "srv-host=_sip._tcp.srvonly.test,pri.example.test,5080,1,0"
		echo "srv-host=_sips._tcp.srvonly.test,sec.example.test,5081,1,0"
		for i in $(seq 0 29); do
			echo "srv-host=_sip._udp.big.test,target-$i.big.test,$((6000 + i)),$i,0"
			echo "host-record=target-$i.big.test,127.0.1.$i"
		done
	} >"$tmp/records.conf"
	dnsmasq -k -C /dev/null --conf-file="$tmp/records.conf" --port=$port \
		--listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts --local=/test/ \
		--log-queries --log-facility="$tmp/dnsmasq.log" >"$tmp/dnsmasq.out" 2>&1 &
	dns_pid=$!
	await_bound "$dns_pid" udp "$port" || { cat "$tmp/dnsmasq.out" >&2; fail "dnsmasq did not start"; }
	tcp_listening "$port" || fail "dnsmasq does not listen on TCP"

	failed=0
	# check NAME EXPECTED [ARGS...]: sipresolve ARGS must print EXPECTED
	# (lines separated by ';') and exit 0.
	check() {
		local name=$1 want=$2 got rc=0
		shift 2
		got=$("$tmp/sipresolve" -server "127.0.0.1:$port" "$@" 2>"$tmp/$name.err") || rc=$?
		want=$(printf '%s\n' "$want" | tr ';' '\n')
		if [ "$rc" = 0 ] && [ "$got" = "$want" ]; then
			echo "$self: $name: PASS"
		else
			echo "$self: $name: FAIL (exit $rc)"
			diff <(echo "$want") <(echo "$got") | sed 's/^/  /' || true
			sed 's/^/  /' "$tmp/$name.err"
			failed=$((failed + 1))
		fi
	}
	udp=";udp 127.0.0.1:5070 pri.example.test;udp [::1]:5070 pri.example.test;udp 127.0.0.2:5071 sec.example.test"
	tcp=";tcp 127.0.0.1:5072 pri.example.test;tcp [::1]:5072 pri.example.test"
	tls=";tls 127.0.0.1:5073 pri.example.test;tls [::1]:5073 pri.example.test"
	check naptr "${udp#;}$tcp$tls" sip:bob@example.test
	check naptr-sips "${tls#;}" sips:bob@example.test
	check naptr-tcp-only "${tcp#;}" -transports tcp sip:bob@example.test
	check transport "${tcp#;}" "sip:bob@example.test;transport=tcp"
	check port "udp 127.0.0.4:5090 example.test" sip:bob@example.test:5090
	check a-only "udp 127.0.0.3:5060 aonly.example.test" sip:bob@aonly.example.test
	check srv-only "tcp 127.0.0.1:5080 pri.example.test;tcp [::1]:5080 pri.example.test;tls 127.0.0.2:5081 sec.example.test" \
		sip:bob@srvonly.test

	# dnsmasq must truncate this answer over UDP without EDNS, or the case
	# would not test the TCP retry.
	dig +noedns +ignore +notcp -p "$port" @127.0.0.1 SRV _sip._udp.big.test >"$tmp/dig.out" 2>&1 || true
	if grep -q '^;; flags:.* tc' "$tmp/dig.out"; then
		want=
		for i in $(seq 0 29); do want+=";udp 127.0.1.$i:$((6000 + i)) target-$i.big.test"; done
		check truncated "${want#;}" "sip:bob@big.test;transport=udp"
		# dnsmasq answers TCP in a child process: a query logged under
		# another PID than its own is the client's retry over TCP.
		if ! grep 'query\[SRV\] _sip._udp.big.test' "$tmp/dnsmasq.log" | grep -qv "dnsmasq\[$dns_pid\]"; then
			echo "$self: truncated: FAIL (no query over TCP)"
			failed=$((failed + 1))
		fi
	else
		echo "$self: truncated: FAIL (dnsmasq did not set TC over UDP)"
		sed 's/^/  /' "$tmp/dig.out"
		failed=$((failed + 1))
	fi

	rc=0
	"$tmp/sipresolve" -server "127.0.0.1:$port" sip:bob@nowhere.test >"$tmp/nx.out" 2>"$tmp/nx.err" || rc=$?
	if [ "$rc" = 1 ] && [ ! -s "$tmp/nx.out" ] && grep -q 'no such domain' "$tmp/nx.err"; then
		echo "$self: nxdomain: PASS"
	else
		echo "$self: nxdomain: FAIL (exit $rc)"
		sed 's/^/  /' "$tmp/nx.out" "$tmp/nx.err"
		failed=$((failed + 1))
	fi

	before=$(grep -c 'query\[' "$tmp/dnsmasq.log" || true)
	check numeric "udp 127.0.0.1:5999 -;tls [::1]:5061 -" sip:bob@127.0.0.1:5999 "sips:bob@[::1]"
	after=$(grep -c 'query\[' "$tmp/dnsmasq.log" || true)
	if [ "$before" != "$after" ]; then
		echo "$self: numeric: FAIL (IP addresses caused $((after - before)) DNS queries)"
		failed=$((failed + 1))
	fi
	[ "$failed" = 0 ] || fail "$failed case(s) failed"
	exit 0
fi

# ======================================================================
# The driver.
cd "$(dirname "$0")/../.."
TIMEOUT=${TIMEOUT:-60}
tmp=$(mktemp -d)
cleanup() {
	if [ -n "${KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

skip_or_fail() {
	[ "${CI:-}" = true ] && fail "$*"
	echo "$self: SKIP: $*"
	exit 0
}

if ! command -v dnsmasq >/dev/null || ! command -v dig >/dev/null; then
	command -v apt-get >/dev/null || skip_or_fail "dnsmasq or dig is not installed and there is no apt-get"
	echo "$self: installing dnsmasq-base and bind9-dnsutils with apt-get"
	if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dnsmasq-base bind9-dnsutils; } >"$tmp/apt.log" 2>&1; then
		tail -n 20 "$tmp/apt.log" >&2
		skip_or_fail "apt-get could not install dnsmasq-base and bind9-dnsutils"
	fi
fi
unshare -n true 2>/dev/null || skip_or_fail "unshare -n does not work here"

go build -o "$tmp/sipresolve" ./internal/cmd/sipresolve
began=$(date +%s)
rc=0
timeout -k 3 "$TIMEOUT" unshare -n bash "$0" --inner "$tmp" || rc=$?
[ "$rc" = 124 ] || [ "$rc" = 137 ] && fail "timed out after $TIMEOUT s"
[ "$rc" = 0 ] || exit "$rc"
echo "$self: all cases passed in $(($(date +%s) - began)) s ($(dnsmasq --version | head -n 1))"
