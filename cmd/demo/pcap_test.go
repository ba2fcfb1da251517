// Tests of the pcap writer: a capture read back field by field (and by
// tshark when installed).

package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/transport"
)

// TestPcapWriter writes a capture of real SIP messages, over IPv4 and IPv6,
// and reads it back field by field; if tshark is installed it also checks
// that Wireshark decodes every packet as SIP.
func TestPcapWriter(t *testing.T) {
	start := time.Unix(1700000000, 250000000)
	now := start
	clock := func() time.Time { now = now.Add(1500 * time.Microsecond); return now }
	var file bytes.Buffer
	p, err := NewPcapWriter(&file, clock)
	if err != nil {
		t.Fatal(err)
	}
	aliceV6, bobV6 := testAddr("[::1]:5061"), testAddr("[::1]:5062")
	stranger := testAddr("192.0.2.9:5999")
	for i, tr := range []transport.Trace{
		{Sent: true, Local: testAlice, Remote: testBob, Msg: testInvite},
		{Local: testBob, Remote: testAlice, Msg: stampedByReceiver(testInvite, testAlice)}, // the INVITE's other trace
		// Alice reads Bob's answer before his write returns: the 200 waits
		// for his trace, and the NOTIFY behind it.
		{Local: testAlice, Remote: testBob, Msg: testOK},
		{Sent: true, Local: testBob, Remote: testAlice, Msg: testNotifyTrying},
		{Sent: true, Local: testBob, Remote: testAlice, Msg: testOK},
		{Local: testAlice, Remote: testBob, Msg: testNotifyTrying},
		{Sent: true, Local: aliceV6, Remote: bobV6, Msg: testBye},
		// A peer that traces nothing: recorded as received, by Flush.
		{Local: testAlice, Remote: stranger, Msg: stampedByReceiver(testACK, stranger)},
	} {
		p.TraceMessage(&tr)
		if wantCount := []int{1, 1, 1, 1, 3, 3, 4, 4}[i]; p.Count() != wantCount {
			t.Errorf("after trace %d, Count() = %d, want %d", i, p.Count(), wantCount)
		}
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	if p.Count() != 5 {
		t.Errorf("after Flush, Count() = %d, want 5", p.Count())
	}

	want := []struct {
		src, dst transport.Addr
		msg      []byte
	}{
		{testAlice, testBob, testInvite},
		{testBob, testAlice, testOK},
		{testBob, testAlice, testNotifyTrying},
		{aliceV6, bobV6, testBye},
		{stranger, testAlice, stampedByReceiver(testACK, stranger)},
	}
	b := file.Bytes()
	le, be := binary.LittleEndian, binary.BigEndian
	if len(b) < 24 {
		t.Fatalf("%d bytes, no file header", len(b))
	}
	if magic, major, minor := le.Uint32(b), le.Uint16(b[4:]), le.Uint16(b[6:]); magic != 0xa1b2c3d4 || major != 2 || minor != 4 {
		t.Errorf("file header: magic %#x version %d.%d, want 0xa1b2c3d4 2.4", magic, major, minor)
	}
	if snap, link := le.Uint32(b[16:]), le.Uint32(b[20:]); snap != 65535 || link != 101 {
		t.Errorf("file header: snaplen %d linktype %d, want 65535 101 (RAW)", snap, link)
	}
	b = b[24:]
	for i, w := range want {
		if len(b) < 16 {
			t.Fatalf("record %d: %d bytes left, no record header", i, len(b))
		}
		ts := time.Unix(int64(le.Uint32(b)), int64(le.Uint32(b[4:]))*1000)
		incl, orig := int(le.Uint32(b[8:])), int(le.Uint32(b[12:]))
		if wantTS := start.Add(time.Duration(i+1) * 1500 * time.Microsecond); !ts.Equal(wantTS) {
			t.Errorf("record %d: time %v, want %v", i, ts, wantTS)
		}
		if incl != orig || incl > len(b)-16 {
			t.Fatalf("record %d: captured %d, original %d, %d bytes left", i, incl, orig, len(b)-16)
		}
		pkt := b[16 : 16+incl]
		b = b[16+incl:]

		var udp []byte
		var pseudo []byte // the pseudo-header of the UDP checksum
		switch pkt[0] >> 4 {
		case 4:
			ip := pkt[:20]
			if ip[0] != 0x45 || ip[9] != 17 || int(be.Uint16(ip[2:])) != len(pkt) {
				t.Errorf("record %d: IPv4 header % x: want 45, protocol 17, total length %d", i, ip, len(pkt))
			}
			if sum := onesComplementSum(ip); sum != 0xffff {
				t.Errorf("record %d: IPv4 header checksum does not add up (%#x)", i, sum)
			}
			checkPcapAddrs(t, i, ip[12:16], ip[16:20], w.src, w.dst)
			udp = pkt[20:]
			pseudo = append(append([]byte{}, ip[12:20]...), 0, 17)
		case 6:
			ip := pkt[:40]
			if ip[6] != 17 || int(be.Uint16(ip[4:])) != len(pkt)-40 {
				t.Errorf("record %d: IPv6 header % x: want next header 17, payload length %d", i, ip, len(pkt)-40)
			}
			checkPcapAddrs(t, i, ip[8:24], ip[24:40], w.src, w.dst)
			udp = pkt[40:]
			pseudo = append(append([]byte{}, ip[8:40]...), 0, 0, 0, 17)
		default:
			t.Fatalf("record %d: IP version %d", i, pkt[0]>>4)
		}
		if sport, dport := be.Uint16(udp), be.Uint16(udp[2:]); sport != w.src.Port() || dport != w.dst.Port() {
			t.Errorf("record %d: UDP ports %d > %d, want %d > %d", i, sport, dport, w.src.Port(), w.dst.Port())
		}
		if n := int(be.Uint16(udp[4:])); n != len(udp) {
			t.Errorf("record %d: UDP length %d, want %d", i, n, len(udp))
		}
		pseudo = be.AppendUint16(pseudo, uint16(len(udp)))
		if be.Uint16(udp[6:]) == 0 || onesComplementSum(append(pseudo, udp...)) != 0xffff {
			t.Errorf("record %d: UDP checksum %#x does not add up", i, be.Uint16(udp[6:]))
		}
		if !bytes.Equal(udp[8:], w.msg) {
			t.Errorf("record %d: payload\n%q\nwant\n%q", i, udp[8:], w.msg)
		}
	}
	if len(b) != 0 {
		t.Errorf("%d bytes after the last record", len(b))
	}

	checkTshark(t, file.Bytes(), []string{"INVITE\t", "\t200", "NOTIFY\t", "BYE\t", "ACK\t"})
}

// checkTshark runs tshark, if installed, over the capture and checks that
// it decodes every packet as SIP, none malformed, with the given method or
// status code.
func checkTshark(t *testing.T, capture []byte, want []string) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Log("tshark is not installed: the capture's layout is checked, not Wireshark's reading of it")
		return
	}
	path := filepath.Join(t.TempDir(), "sip.pcap")
	if err := os.WriteFile(path, capture, 0o644); err != nil {
		t.Fatal(err)
	}
	// No -d udp.port==N,sip: the SIP heuristic (sip_udp) finds SIP on any
	// port. Checksum validation is off by default; on, a bad checksum is an
	// expert error, which the filter drops.
	cmd := exec.Command(tshark, "-n", "-r", path,
		"-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
		"-Y", "sip && !_ws.malformed && !_ws.expert.severity >= warning",
		"-T", "fields", "-e", "sip.Method", "-e", "sip.Status-Code")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, stderr.Bytes())
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("tshark decoded as SIP, not malformed, with no warning or bad checksum:\n%q\nwant\n%q\n%s", got, want, stderr.Bytes())
	}
}

// onesComplementSum adds b in ones' complement, 16 bits at a time (RFC 1071): over a
// header or datagram that carries its checksum, the result is 0xffff.
func onesComplementSum(b []byte) uint16 {
	var sum uint32
	for i := 0; i < len(b); i += 2 {
		w := uint32(b[i]) << 8
		if i+1 < len(b) {
			w |= uint32(b[i+1])
		}
		sum += w
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

// checkPcapAddrs checks the source and destination of record i.
func checkPcapAddrs(t *testing.T, i int, src, dst []byte, wantSrc, wantDst transport.Addr) {
	t.Helper()
	s, _ := netip.AddrFromSlice(src)
	d, _ := netip.AddrFromSlice(dst)
	if s != wantSrc.Addr() || d != wantDst.Addr() {
		t.Errorf("record %d: %v > %v, want %v > %v", i, s, d, wantSrc.Addr(), wantDst.Addr())
	}
}

// TestPcapWriterError checks that the first failed write stops the
// recording, as a cut record would corrupt the file, and is reported.
func TestPcapWriterError(t *testing.T) {
	if _, err := NewPcapWriter(&failingWriter{}, nil); err == nil {
		t.Error("NewPcapWriter on a failing writer: no error")
	}
	w := &failingWriter{left: 1}
	p, err := NewPcapWriter(w, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.TraceMessage(&transport.Trace{Sent: true, Local: testAlice, Remote: testBob, Msg: testInvite})
	p.TraceMessage(&transport.Trace{Sent: true, Local: testAlice, Remote: testBob, Msg: testInvite})
	if !errors.Is(p.Err(), errDiskFull) || w.calls != 2 || p.Count() != 0 {
		t.Errorf("Err() = %v after %d writes, Count() %d; want %v after 2, 0", p.Err(), w.calls, p.Count(), errDiskFull)
	}
}

var errDiskFull = errors.New("disk full")

// failingWriter accepts left writes, then fails.
type failingWriter struct{ left, calls int }

func (w *failingWriter) Write(b []byte) (int, error) {
	w.calls++
	if w.left == 0 {
		return 0, errDiskFull
	}
	w.left--
	return len(b), nil
}

// TestPcapWriterConcurrent records from several goroutines at once, as the
// layers of a run do, and checks that the records come out whole. Run it
// with -race.
func TestPcapWriterConcurrent(t *testing.T) {
	var file bytes.Buffer
	p, err := NewPcapWriter(&file, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	var wg sync.WaitGroup
	for _, from := range []transport.Addr{testAlice, testBob, testCarol} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				p.TraceMessage(&transport.Trace{Sent: true, Local: from, Remote: testAlice, Msg: testBye})
			}
		}()
	}
	wg.Wait()
	if p.Flush() != nil || p.Count() != 3*n {
		t.Fatalf("Err() = %v, Count() = %d, want nil, %d", p.Err(), p.Count(), 3*n)
	}
	record := 16 + 20 + 8 + len(testBye)
	if file.Len() != 24+3*n*record {
		t.Fatalf("%d bytes, want %d", file.Len(), 24+3*n*record)
	}
	for b := file.Bytes()[24:]; len(b) > 0; b = b[record:] {
		if !bytes.Equal(b[16+28:record], testBye) {
			t.Fatalf("torn record:\n%q", b[:record])
		}
	}
}

// pcapPayloads returns the UDP payloads of the records of a capture.
func pcapPayloads(t *testing.T, capture []byte) [][]byte {
	t.Helper()
	var payloads [][]byte
	for b := capture[24:]; len(b) > 0; {
		n := int(binary.LittleEndian.Uint32(b[8:]))
		pkt := b[16 : 16+n]
		ipLen := 40
		if pkt[0]>>4 == 4 {
			ipLen = 20
		}
		payloads = append(payloads, pkt[ipLen+8:])
		b = b[16+n:]
	}
	return payloads
}
