// Package compare runs the sipxfer parser and the sipgo parser
// (github.com/emiago/sipgo/sip) on the same messages, those of package
// bench. It is a module of its own so that sipxfer itself depends on
// nothing; see README.md.
package compare

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	sipgo "github.com/emiago/sipgo/sip"
	"github.com/sipxfer/sipxfer/bench"
	"github.com/sipxfer/sipxfer/sip"
)

// Sub-benchmarks are named msg=<message>/impl=<parser>, so that
// "benchstat -col /impl" puts the two parsers side by side.
var messages = []struct {
	name string
	text string
}{
	{"invite", bench.Invite},
	{"refer", bench.Refer},
	{"notify", bench.Notify},
	{"ok200", bench.OK200},
}

// key is a transaction key: top Via branch and sent-by, CSeq, Call-ID and
// the tags. Both parsers fill one from the same message.
type key struct {
	branch, host   string
	port           int
	seq            uint32
	method         string
	callID         string
	fromTag, toTag string
}

// keyView is the sipxfer key: views into the message, nothing copied.
type keyView struct {
	branch, host   []byte
	port           int
	seq            uint32
	method         []byte
	callID         []byte
	fromTag, toTag []byte
}

func (k keyView) strings() key {
	return key{string(k.branch), string(k.host), k.port, k.seq, string(k.method), string(k.callID), string(k.fromTag), string(k.toTag)}
}

// sipxferKey parses b into a reused Message and reads its key.
func sipxferKey(m *sip.Message, b []byte) (keyView, error) {
	if err := sip.Parse(m, b); err != nil {
		return keyView{}, err
	}
	via, err := m.TopVia()
	if err != nil {
		return keyView{}, err
	}
	cseq, err := m.CSeq()
	if err != nil {
		return keyView{}, err
	}
	return keyView{via.Branch, via.Host, via.Port, cseq.Seq, cseq.MethodName, m.CallID(), m.FromTag(), m.ToTag()}, nil
}

// errMissing reports a header field sipgo did not find.
type errMissing string

func (e errMissing) Error() string { return "sipgo: no " + string(e) }

// sipgoKey parses b with sipgo, which parses Via, From, To, CSeq and
// Call-ID while parsing the message, and reads the key.
func sipgoKey(p *sipgo.Parser, b []byte) (key, error) {
	msg, err := p.ParseSIP(b)
	if err != nil {
		return key{}, err
	}
	return sipgoKeyOf(msg)
}

// sipgoKeyOf reads the key of a message sipgo parsed.
func sipgoKeyOf(msg sipgo.Message) (key, error) {
	via, cseq, callID, from, to := msg.Via(), msg.CSeq(), msg.CallID(), msg.From(), msg.To()
	switch {
	case via == nil:
		return key{}, errMissing("Via")
	case cseq == nil:
		return key{}, errMissing("CSeq")
	case callID == nil:
		return key{}, errMissing("Call-ID")
	case from == nil:
		return key{}, errMissing("From")
	case to == nil:
		return key{}, errMissing("To")
	}
	branch, _ := via.Params.Get("branch")
	fromTag, _ := from.Params.Get("tag")
	toTag, _ := to.Params.Get("tag")
	return key{branch, via.Host, via.Port, cseq.SeqNo, string(cseq.MethodName), string(*callID), fromTag, toTag}, nil
}

// reads is what a user agent reads from a message beyond the key: the
// first Contact's user and host, the Refer-To URI's user and host, the
// Event type and id, the Subscription-State and its expires.
type reads struct {
	key
	contactUser, contactHost string
	referUser, referHost     string
	event, eventID           string
	state                    string
	expires                  uint32
}

// sipxferAccess parses b into a reused Message and reads the key and the
// header fields a UA reads, the way sipxfer's dialog, event and refer
// packages read them (every value checked as it is parsed).
func sipxferAccess(m *sip.Message, b []byte) (keyView, readViews, error) {
	var r readViews
	k, err := sipxferKey(m, b)
	if err != nil {
		return k, r, err
	}
	var na sip.NameAddr
	if v := m.Get(sip.HeaderContact); v != nil {
		if err := na.Parse(v); err != nil {
			return k, r, err
		}
		r.contactUser, r.contactHost = na.URI.User, na.URI.Host
	}
	if m.Has(sip.HeaderReferTo) {
		to, err := m.ReferTo()
		if err != nil {
			return k, r, err
		}
		r.referUser, r.referHost = to.URI.User, to.URI.Host
	}
	if m.Has(sip.HeaderEvent) {
		ev, err := m.Event()
		if err != nil {
			return k, r, err
		}
		r.event, r.eventID = ev.Type, ev.ID
	}
	if m.Has(sip.HeaderSubscriptionState) {
		ss, err := m.SubscriptionState()
		if err != nil {
			return k, r, err
		}
		r.state, r.expires = ss.State, ss.Expires
	}
	return k, r, nil
}

// readViews is reads as views into the sipxfer message.
type readViews struct {
	contactUser, contactHost []byte
	referUser, referHost     []byte
	event, eventID           []byte
	state                    []byte
	expires                  uint32
}

// sipgoAccess parses b with sipgo and reads what sipxferAccess reads.
// sipgo has typed Contact and Refer-To headers; Event and
// Subscription-State it keeps as text, which is split here the way a
// sipgo user would, with less checking than sipxfer does.
func sipgoAccess(p *sipgo.Parser, b []byte) (reads, error) {
	msg, err := p.ParseSIP(b)
	if err != nil {
		return reads{}, err
	}
	var r reads
	if r.key, err = sipgoKeyOf(msg); err != nil {
		return r, err
	}
	hs, ok := msg.(sipgoHeaders)
	if !ok {
		return r, errMissing("headers")
	}
	if c := hs.Contact(); c != nil {
		r.contactUser, r.contactHost = c.Address.User, c.Address.Host
	}
	if to := hs.ReferTo(); to != nil {
		r.referUser, r.referHost = to.Address.User, to.Address.Host
	}
	if h := hs.GetHeader("Event"); h != nil {
		typ, params, _ := strings.Cut(h.Value(), ";")
		r.event = strings.TrimSpace(typ)
		r.eventID = param(params, "id")
	}
	if h := hs.GetHeader("Subscription-State"); h != nil {
		state, params, _ := strings.Cut(h.Value(), ";")
		r.state = strings.TrimSpace(state)
		if v := param(params, "expires"); v != "" {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return r, err
			}
			r.expires = uint32(n)
		}
	}
	return r, nil
}

// sipgoHeaders is what sipgo's Request and Response offer beyond Message.
type sipgoHeaders interface {
	Contact() *sipgo.ContactHeader
	ReferTo() *sipgo.ReferToHeader
	GetHeader(name string) sipgo.Header
}

// param returns the value of the parameter name in a ';'-separated list.
func param(params, name string) string {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		n, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(n), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

var (
	sinkReads reads
	sinkRV    readViews
	sinkErr   error
	sinkMsg   sipgo.Message
	sinkKey   key
	sinkView  keyView
)

// BenchmarkParse parses each message: sipxfer into a reused Message,
// sipgo into the Request or Response it allocates.
func BenchmarkParse(b *testing.B) {
	for _, msg := range messages {
		in := []byte(msg.text)
		b.Run("msg="+msg.name+"/impl=sipxfer", func(b *testing.B) {
			var m sip.Message
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				sinkErr = sip.Parse(&m, in)
			}
			if sinkErr != nil {
				b.Fatal(sinkErr)
			}
		})
		b.Run("msg="+msg.name+"/impl=sipgo", func(b *testing.B) {
			p := sipgo.NewParser()
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				sinkMsg, sinkErr = p.ParseSIP(in)
			}
			if sinkErr != nil {
				b.Fatal(sinkErr)
			}
		})
	}
}

// BenchmarkTransactionKey parses each message and reads its transaction
// key. sipgo has parsed those header fields already; sipxfer parses them
// on demand.
func BenchmarkTransactionKey(b *testing.B) {
	for _, msg := range messages {
		in := []byte(msg.text)
		b.Run("msg="+msg.name+"/impl=sipxfer", func(b *testing.B) {
			var m sip.Message
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				sinkView, sinkErr = sipxferKey(&m, in)
			}
			if sinkErr != nil {
				b.Fatal(sinkErr)
			}
		})
		b.Run("msg="+msg.name+"/impl=sipgo", func(b *testing.B) {
			p := sipgo.NewParser()
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				sinkKey, sinkErr = sipgoKey(p, in)
			}
			if sinkErr != nil {
				b.Fatal(sinkErr)
			}
		})
	}
}

// BenchmarkParseAccess parses each message and reads the key and what a
// user agent reads besides (reads).
func BenchmarkParseAccess(b *testing.B) {
	for _, msg := range messages {
		in := []byte(msg.text)
		b.Run("msg="+msg.name+"/impl=sipxfer", func(b *testing.B) {
			var m sip.Message
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				sinkView, sinkRV, sinkErr = sipxferAccess(&m, in)
			}
			if sinkErr != nil {
				b.Fatal(sinkErr)
			}
		})
		b.Run("msg="+msg.name+"/impl=sipgo", func(b *testing.B) {
			p := sipgo.NewParser()
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				sinkReads, sinkErr = sipgoAccess(p, in)
			}
			if sinkErr != nil {
				b.Fatal(sinkErr)
			}
		})
	}
}

// TestSameReads checks both parsers read the same values in ParseAccess.
func TestSameReads(t *testing.T) {
	p := sipgo.NewParser()
	for _, msg := range messages {
		var m sip.Message
		k, v, err := sipxferAccess(&m, []byte(msg.text))
		if err != nil {
			t.Fatalf("%s: sipxfer: %v", msg.name, err)
		}
		want := reads{key: k.strings(),
			contactUser: string(v.contactUser), contactHost: string(v.contactHost),
			referUser: string(v.referUser), referHost: string(v.referHost),
			event: string(v.event), eventID: string(v.eventID), state: string(v.state), expires: v.expires}
		got, err := sipgoAccess(p, []byte(msg.text))
		if err != nil {
			t.Fatalf("%s: sipgo: %v", msg.name, err)
		}
		if got != want {
			t.Errorf("%s: sipgo read %+v, sipxfer %+v", msg.name, got, want)
		}
		if want.contactHost == "" {
			t.Errorf("%s: no Contact read", msg.name)
		}
	}
}

// TestSameKey checks both parsers accept every message and read the same
// transaction key and body from it, so that the benchmarks compare like
// with like.
func TestSameKey(t *testing.T) {
	p := sipgo.NewParser()
	for _, msg := range messages {
		var m sip.Message
		view, err := sipxferKey(&m, []byte(msg.text))
		if err != nil {
			t.Fatalf("%s: sipxfer: %v", msg.name, err)
		}
		got, err := sipgoKey(p, []byte(msg.text))
		if err != nil {
			t.Fatalf("%s: sipgo: %v", msg.name, err)
		}
		if want := view.strings(); got != want {
			t.Errorf("%s: sipgo key %+v, sipxfer %+v", msg.name, got, want)
		}
		parsed, _ := p.ParseSIP([]byte(msg.text))
		if !bytes.Equal(parsed.Body(), m.Body()) {
			t.Errorf("%s: bodies differ: %q, %q", msg.name, parsed.Body(), m.Body())
		}
		if cl := parsed.ContentLength(); cl == nil || int(*cl) != m.ContentLength() {
			t.Errorf("%s: sipgo Content-Length %v, sipxfer %d", msg.name, cl, m.ContentLength())
		}
	}
}
