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
# Then demo ua places calls located through a second dnsmasq (see
# sip_cases): SRV to a callee, failover past a target with no listener and
# past one answering 503, sips: over TLS with the certificate checked
# against the SIP domain, and refused for a domain it does not name.
#
#   TIMEOUT        seconds the whole run may take (default 120)
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

	# sip_cases runs the calls:
	#   call           demo ua calls sip:bob@call.test: SRV _sip._udp
	#                  names a callee's port, which gets the call
	#   failover       sip:bob@down.test;transport=tcp: the first SRV
	#                  target (priority 10) has no listener, the call goes
	#                  to the second (RFC 3263 §4.3)
	#   failover-503   sip:bob@busy.test: the first target answers 503,
	#                  the second gets the INVITE and the call
	#   sips           sips:bob@tls.test: NAPTR-less SRV _sips._tcp to
	#                  srv.tls.test, TLS, the callee's certificate (from a
	#                  CA made here) checked against tls.test
	#   sips-wrong     sips:bob@wrong.test, same SRV target and certificate:
	#                  refused, the certificate does not name wrong.test
	sip_cases() {
		local dns2=5354 pids=() certs=$tmp/certs
		mkdir -p "$certs"
		# A CA, and certificates for the callee (tls.test) and the caller.
		openssl ecparam -name prime256v1 -genkey -noout -out "$certs/ca.key" 2>/dev/null
		openssl req -x509 -new -key "$certs/ca.key" -subj /CN=sipxfer-interop-ca -days 1 -out "$certs/ca.pem" 2>/dev/null
		for who in bob.tls.test alice.test; do
			openssl ecparam -name prime256v1 -genkey -noout -out "$certs/$who.key" 2>/dev/null
			openssl req -new -key "$certs/$who.key" -subj "/CN=$who" -out "$certs/$who.csr" 2>/dev/null
			printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth,clientAuth\n' "${who#bob.}" >"$certs/$who.ext"
			openssl x509 -req -in "$certs/$who.csr" -CA "$certs/ca.pem" -CAkey "$certs/ca.key" -CAcreateserial \
				-days 1 -extfile "$certs/$who.ext" -out "$certs/$who.pem" 2>/dev/null
		done
		local tlsargs=(-tls-ca "$certs/ca.pem")
		start_demo bob -duration 90s
		start_demo busy -answer-code 503 -duration 90s
		start_demo bobtcp -transport tcp -duration 90s
		start_demo bobtls -transport tls -tls-cert "$certs/bob.tls.test.pem" -tls-key "$certs/bob.tls.test.key" "${tlsargs[@]}" -duration 90s
		pids+=("$bob_pid" "$busy_pid" "$bobtcp_pid" "$bobtls_pid")
		free_port
		local dead=$port # nothing listens there, over TCP either
		{
			echo "srv-host=_sip._udp.call.test,pri.call.test,$bob_port,10,0"
			echo "host-record=pri.call.test,127.0.0.1"
			echo "srv-host=_sip._tcp.down.test,dead.down.test,$dead,10,0"
			echo "srv-host=_sip._tcp.down.test,live.down.test,$bobtcp_port,20,0"
			echo "host-record=dead.down.test,127.0.0.1"
			echo "host-record=live.down.test,127.0.0.1"
			echo "srv-host=_sip._udp.busy.test,busy.busy.test,$busy_port,10,0"
			echo "srv-host=_sip._udp.busy.test,idle.busy.test,$bob_port,20,0"
			echo "host-record=busy.busy.test,127.0.0.1"
			echo "host-record=idle.busy.test,127.0.0.1"
			echo "srv-host=_sips._tcp.tls.test,srv.tls.test,$bobtls_port,10,0"
			echo "srv-host=_sips._tcp.wrong.test,srv.tls.test,$bobtls_port,10,0"
			echo "host-record=srv.tls.test,127.0.0.1"
		} >"$tmp/sip.conf"
		dnsmasq -k -C /dev/null --conf-file="$tmp/sip.conf" --port=$dns2 \
			--listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts --local=/test/ \
			--log-queries --log-facility="$tmp/dnsmasq2.log" >"$tmp/dnsmasq2.out" 2>&1 &
		local dns2_pid=$!
		pids+=("$dns2_pid")
		trap 'kill -KILL '"${pids[*]}"' $dns_pid 2>/dev/null || true' EXIT
		await_bound "$dns2_pid" udp "$dns2" || { cat "$tmp/dnsmasq2.out" >&2; fail "second dnsmasq did not start"; }

		# call NAME WANT-EXIT URI ARGS...: demo ua as alice calls URI once
		# through dnsmasq; its exit status must be WANT-EXIT.
		call() {
			local name=$1 want=$2 uri=$3 rc=0 who
			shift 3
			who=alice_${name//-/_}
			start_demo "$who" -resolver "127.0.0.1:$dns2" -call "$uri" -max-calls 1 -duration 15s "$@"
			local pid_var=${who}_pid
			wait_exit "${!pid_var}" 20 || rc=$?
			if [ "$rc" != "$want" ]; then
				echo "$self: $name: FAIL (alice exit $rc, want $want)"
				sed 's/^/  /' "$tmp/$who.out" "$tmp/$who.err" | tail -n 20
				failed=$((failed + 1))
				return 1
			fi
		}
		# count WHO EVENT: how many EVENT lines WHO printed.
		count() { grep -c "\"event\":\"$2\"" "$tmp/$1.out" || true; }

		if call call 0 sip:bob@call.test && [ "$(count bob call_established)" = 1 ]; then
			echo "$self: call: PASS"
		elif [ "$(count bob call_established)" != 1 ]; then
			echo "$self: call: FAIL (bob established $(count bob call_established) calls, want 1)"
			failed=$((failed + 1))
		fi
		if call failover 0 "sip:bob@down.test;transport=tcp" -transport tcp && [ "$(count bobtcp call_established)" = 1 ]; then
			echo "$self: failover: PASS"
		elif [ "$(count bobtcp call_established)" != 1 ]; then
			echo "$self: failover: FAIL (the second target established $(count bobtcp call_established) calls, want 1)"
			failed=$((failed + 1))
		fi
		if call failover-503 0 sip:bob@busy.test && [ "$(count busy call_incoming)" = 1 ] && [ "$(count bob call_established)" = 2 ]; then
			echo "$self: failover-503: PASS"
		elif [ "$(count busy call_incoming)" != 1 ] || [ "$(count bob call_established)" != 2 ]; then
			echo "$self: failover-503: FAIL (the 503 target got $(count busy call_incoming) INVITEs, want 1; the second target established $(count bob call_established) calls in all, want 2)"
			failed=$((failed + 1))
		fi
		local alice_tls=(-transport tls -tls-cert "$certs/alice.test.pem" -tls-key "$certs/alice.test.key" "${tlsargs[@]}")
		if call sips 0 sips:bob@tls.test "${alice_tls[@]}" && [ "$(count bobtls call_established)" = 1 ]; then
			echo "$self: sips: PASS"
		elif [ "$(count bobtls call_established)" != 1 ]; then
			echo "$self: sips: FAIL (the TLS callee established $(count bobtls call_established) calls, want 1)"
			failed=$((failed + 1))
		fi
		if call sips-wrong 1 sips:bob@wrong.test "${alice_tls[@]}" && grep -q 'certificate is valid for tls.test, not wrong.test' "$tmp/alice_sips_wrong.out" &&
			[ "$(count bobtls call_incoming)" = 1 ]; then
			echo "$self: sips-wrong: PASS"
		else
			echo "$self: sips-wrong: FAIL (want a certificate error and no second call at the callee)"
			grep call_failed "$tmp/alice_sips_wrong.out" | sed 's/^/  /'
			failed=$((failed + 1))
		fi
		kill -TERM "${pids[@]}" 2>/dev/null || true
	}

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

	# ------------------------------------------------------------------
	# Calls: demo ua locating its peers through a second dnsmasq, whose
	# records name the ports the callees got.
	sip_cases
	[ "$failed" = 0 ] || fail "$failed case(s) failed"
	exit 0
fi

# ======================================================================
# The driver.
cd "$(dirname "$0")/../.."
TIMEOUT=${TIMEOUT:-120}
tmp=$(mktemp -d)
cleanup() {
	if [ -n "${KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

need_peer dnsmasq dnsmasq-base dig bind9-dnsutils openssl openssl
unshare -n true 2>/dev/null || skip_or_fail "unshare -n does not work here"

go build -o "$tmp/sipresolve" ./internal/cmd/sipresolve
go build -o "$tmp/demo" ./cmd/demo
began=$(date +%s)
rc=0
timeout -k 3 "$TIMEOUT" unshare -n bash "$0" --inner "$tmp" || rc=$?
[ "$rc" = 124 ] || [ "$rc" = 137 ] && fail "timed out after $TIMEOUT s"
[ "$rc" = 0 ] || exit "$rc"
echo "$self: all cases passed in $(($(date +%s) - began)) s ($(dnsmasq --version | head -n 1))"
