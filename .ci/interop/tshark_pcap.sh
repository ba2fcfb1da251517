#!/usr/bin/env bash
# Interop: Wireshark's dissector (tshark, Debian package tshark) reads the
# pcap of "go run ./cmd/demo -pcap" (both transfers, over UDP and TCP) and
# must decode every packet as SIP, with nothing malformed and no expert
# warning, and see as many packets as the demo says it wrote.
set -euo pipefail
. "$(dirname "$0")/lib.bash"
cd "$(dirname "$0")/../.."

need_peer tshark tshark

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/demo" ./cmd/demo
for proto in udp tcp; do
	pcap="$tmp/$proto.pcap"
	timeout 120 "$tmp/demo" -transport "$proto" -pcap "$pcap" >"$tmp/out"
	wrote=$(sed -n 's/^\([0-9]*\) messages written to .*/\1/p' "$tmp/out")
	total=$(tshark -n -r "$pcap" 2>/dev/null | wc -l)
	sip=$(tshark -n -r "$pcap" -Y sip 2>/dev/null | wc -l)
	bad=$(tshark -n -r "$pcap" -Y '_ws.malformed || _ws.expert.severity >= warning' 2>/dev/null | wc -l)
	echo "tshark_pcap $proto: demo wrote $wrote, tshark read $total, $sip as SIP, $bad malformed or warned"
	if [ "$wrote" != "$total" ] || [ "$total" != "$sip" ] || [ "$bad" != 0 ] || [ "$total" -lt 40 ]; then
		tshark -n -r "$pcap" -Y '!sip || _ws.malformed || _ws.expert.severity >= warning' -V 2>/dev/null | head -60
		echo "tshark_pcap $proto: FAIL" >&2
		exit 1
	fi
done
echo "tshark_pcap: ok"
