// Tests of the demo's session descriptions (sdp.go) and of "demo ua"
// answering re-INVITEs with them.

package main

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/transport"
)

// sdpOffer192024 is the offer of a demo UA on 192.0.2.4:5070 at the Unix
// epoch (its sess-id): one PCMU stream on a real-looking even port of its
// address, sendrecv; not the port 9 and a=inactive of a UA without media,
// which linphone 5.1 will not transfer.
const sdpOffer192024 = "v=0\r\no=- 0 1 IN IP4 192.0.2.4\r\ns=-\r\nc=IN IP4 192.0.2.4\r\nt=0 0\r\n" +
	"m=audio 30140 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"

func TestSDPOffer(t *testing.T) {
	d := newMediaDesc(netip.MustParseAddr("192.0.2.4"), 5070, 0)
	if got := string(d.offer()); got != sdpOffer192024 {
		t.Errorf("offer:\n%s\nwant:\n%s", got, sdpOffer192024)
	}
	d6 := newMediaDesc(netip.MustParseAddr("2001:db8::4"), 15061, 42)
	want6 := "v=0\r\no=- 42 1 IN IP6 2001:db8::4\r\ns=-\r\nc=IN IP6 2001:db8::4\r\nt=0 0\r\n" +
		"m=audio 30122 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
	if got := string(d6.offer()); got != want6 {
		t.Errorf("IPv6 offer:\n%s\nwant:\n%s", got, want6)
	}
	// An IPv4-mapped address is written as IPv4.
	if got := string(newMediaDesc(netip.MustParseAddr("::ffff:192.0.2.4"), 5070, 0).offer()); got != sdpOffer192024 {
		t.Errorf("mapped offer:\n%s", got)
	}
	// RFC 4566 §5.2: each session has a sess-id of its own.
	second := string(d.offer())
	if want := strings.Replace(sdpOffer192024, "o=- 0 1 ", "o=- 1 1 ", 1); second != want {
		t.Errorf("second offer:\n%s\nwant:\n%s", second, want)
	}
}

// RFC 3264 §6.1: the answer's direction mirrors the offer's, at media or
// session level; §6: a refused stream (port 0), or one with no codec in
// common, is answered with port 0.
func TestSDPAnswer(t *testing.T) {
	const head = "v=0\r\no=peer 7 7 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
	for _, tt := range []struct {
		name, offer, dir string
		port             int
	}{
		{"sendrecv implied", head + "m=audio 7078 RTP/AVP 96 0 8\r\n", "sendrecv", 30140},
		{"sendrecv", head + "m=audio 7078 RTP/AVP 0\r\na=sendrecv\r\n", "sendrecv", 30140},
		{"hold", head + "m=audio 7078 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n", "recvonly", 30140},
		{"recvonly", head + "m=audio 7078 RTP/AVP 0\r\na=recvonly\r\n", "sendonly", 30140},
		{"inactive", head + "m=audio 7078 RTP/AVP 0\r\na=inactive\r\n", "inactive", 30140},
		{"session-level hold", head + "a=sendonly\r\nm=audio 7078 RTP/AVP 0\r\n", "recvonly", 30140},
		{"media overrides session", head + "a=sendonly\r\nm=audio 7078 RTP/AVP 0\r\na=sendrecv\r\n", "sendrecv", 30140},
		{"LF line ends", strings.ReplaceAll(head+"m=audio 7078 RTP/AVP 0\r\na=sendonly\r\n", "\r\n", "\n"), "recvonly", 30140},
		{"video first", head + "m=video 9000 RTP/AVP 96\r\na=inactive\r\nm=audio 7078 RTP/AVP 0\r\n", "sendrecv", 30140},
		{"refused", head + "m=audio 0 RTP/AVP 0\r\n", "sendrecv", 0},
		{"no PCMU", head + "m=audio 7078 RTP/AVP 8 96\r\n", "sendrecv", 0},
		{"no audio", head + "m=video 9000 RTP/AVP 96\r\n", "sendrecv", 0},
		{"not SDP", "hello", "sendrecv", 0},
	} {
		d := newMediaDesc(netip.MustParseAddr("192.0.2.4"), 5070, 0)
		got := string(d.answer(nil, []byte(tt.offer)))
		want := strings.Replace(strings.Replace(sdpOffer192024, "a=sendrecv", "a="+tt.dir, 1), "30140", strconv.Itoa(tt.port), 1)
		if got != want {
			t.Errorf("%s: answer:\n%s\nwant:\n%s", tt.name, got, want)
		}
	}
}

// RFC 3264 §8: a new description in a session keeps the sess-version when
// nothing changed and increments it otherwise.
func TestSDPVersion(t *testing.T) {
	d := newMediaDesc(netip.MustParseAddr("192.0.2.4"), 5070, 0)
	v := func(b []byte) uint64 { _, n, _ := origin(b); return n }
	id := func(b []byte) uint64 { n, _, _ := origin(b); return n }
	first := d.offer()
	hold := d.reoffer(first, "sendonly")
	if v(hold) != 2 || parseSDP(hold).dir != "sendonly" {
		t.Errorf("hold offer:\n%s\nwant version 2, a=sendonly", hold)
	}
	if again := d.reoffer(hold, "sendonly"); v(again) != 2 || string(again) != string(hold) {
		t.Errorf("the same offer again:\n%s\nwant it unchanged", again)
	}
	resume := d.reoffer(hold, "sendrecv")
	if v(resume) != 3 {
		t.Errorf("resume offer:\n%s\nwant version 3", resume)
	}
	if id(hold) != id(first) || id(resume) != id(first) {
		t.Errorf("sess-ids %d, %d, %d: want one session", id(first), id(hold), id(resume))
	}
	// An answer after a foreign description (no o= line of ours) starts a
	// session at version 1.
	if a := d.answer([]byte("garbage"), first); v(a) != 1 || id(a) == id(first) {
		t.Errorf("answer after garbage:\n%s", a)
	}
}

// The demo UA in a call: it answers an offer with a real-looking stream,
// a hold (a=sendonly re-INVITE) with a=recvonly, and the resume with
// a=sendrecv, its o= version one more each time the answer changes and
// the same when a re-INVITE changes nothing (RFC 3264 §6.1, §8, §8.4).
// An offerless re-INVITE gets its last description again.
func TestUAReInvite(t *testing.T) {
	clock := transport.NewFakeClock(time.Unix(0, 0))
	network := transport.NewNetwork(clock, 1)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	f, err := parseUAFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	app, err := newUAApp(f, newEventWriter(io.Discard, 0), dialog.Config{Clock: clock, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer app.close()
	uaAddr, err := app.ua.ListenMem(network, transport.Addr{Proto: transport.UDP, AddrPort: netip.MustParseAddrPort("192.0.2.4:5070")})
	if err != nil {
		t.Fatal(err)
	}
	app.listening(uaAddr)
	peer := dialog.NewUA(dialog.Config{Clock: clock, Logger: quiet, User: "alice"})
	defer peer.Close()
	if _, err := peer.ListenMem(network, transport.Addr{Proto: transport.UDP, AddrPort: netip.MustParseAddrPort("192.0.2.1:5060")}); err != nil {
		t.Fatal(err)
	}
	offer := func(version int, dir string) []byte {
		return []byte("v=0\r\no=linphone 100 " + strconv.Itoa(version) + " IN IP4 192.0.2.1\r\ns=Talk\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" +
			"m=audio 7078 RTP/AVP 96 0 8 101\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\na=" + dir + "\r\n")
	}
	c, err := peer.Invite(context.Background(), "sip:bob@192.0.2.4:5070", &dialog.CallOptions{InitialOptions: dialog.InitialOptions{
		RequestOptions: dialog.RequestOptions{ContentType: "application/sdp", Body: offer(1, "sendrecv")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(c.RemoteBody()); got != sdpOffer192024 {
		t.Errorf("answer to the INVITE:\n%s\nwant:\n%s", got, sdpOffer192024)
	}
	line := regexp.MustCompile(`(?m)^(o=- 0 \d+ |a=\w+\r$)`)
	for _, step := range []struct {
		name  string
		offer []byte
		want  string // the answer's o= and direction lines
	}{
		{"hold", offer(2, "sendonly"), "o=- 0 2 |a=recvonly\r"},
		{"hold again", offer(2, "sendonly"), "o=- 0 2 |a=recvonly\r"},
		{"resume", offer(3, "sendrecv"), "o=- 0 3 |a=sendrecv\r"},
		{"offerless", nil, "o=- 0 3 |a=sendrecv\r"},
	} {
		ct := "application/sdp"
		if step.offer == nil {
			ct = ""
		}
		answer, err := c.ReInvite(context.Background(), ct, step.offer)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := strings.Join(line.FindAllString(string(answer), -1), "|"); got != step.want {
			t.Errorf("%s: answer:\n%s\nwant %q", step.name, answer, step.want)
		}
		if !strings.Contains(string(answer), "c=IN IP4 192.0.2.4\r\n") || !strings.Contains(string(answer), "m=audio 30140 RTP/AVP 0\r\n") {
			t.Errorf("%s: answer:\n%s\nwant the UA's address and stream", step.name, answer)
		}
	}
	if err := c.Bye(context.Background()); err != nil {
		t.Fatal(err)
	}
}
