package fuzz

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

// FuzzTransactions drives a transaction Manager with an arbitrary sequence
// of inbound requests and responses, requests and answers of its user,
// CANCELs, transport failures and clock advances, all on a fake clock, and
// checks what must hold whatever happens:
//
//   - nothing panics;
//   - no response is ever sent to an ACK;
//   - a server transaction sends at most one distinct final response (a
//     2xx to an INVITE may be followed by more 2xx, RFC 6026 §7.1);
//   - a client transaction reports at most one final outcome to its user,
//     except further 2xx to an INVITE (RFC 6026 §7.2);
//   - once the user has answered every request and the clock has run long
//     enough, every transaction and every timer is gone.
//
// Each input byte pair is an operation and its argument; see step.
func FuzzTransactions(f *testing.F) {
	f.Add([]byte{0, 0, 3, 0, 5, 3, 1, 1, 5, 8})
	f.Add([]byte{2, 0, 1, 0x21, 1, 0x40, 5, 3})
	f.Add([]byte{2, 1, 1, 0x11, 6, 0, 1, 0x71, 5, 9, 0, 2})
	f.Add([]byte{0, 1, 3, 1, 0, 1, 4, 0, 0, 3, 5, 2})
	f.Add([]byte{2, 1, 1, 0x01, 1, 0x31, 5, 1, 1, 0x31, 5, 9})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 400 {
			return
		}
		m := newMachine(t)
		for i := 0; i+1 < len(ops); i += 2 {
			m.step(ops[i], ops[i+1])
		}
		// The user owes every request an answer (the transaction layer
		// has no timer for a server transaction awaiting its TU).
		m.mu.Lock()
		pending := m.pending
		m.pending = nil
		m.mu.Unlock()
		for _, tx := range pending {
			m.answer(tx, m.requests[tx], 500, "t0")
		}
		m.clock.Advance(10 * time.Minute)
		if c, s := m.mgr.Transactions(); c+s != 0 {
			t.Fatalf("%d client and %d server transactions left", c, s)
		}
		if n := m.clock.Pending(); n != 0 {
			t.Fatalf("%d timers left", n)
		}
		m.mgr.Close()
	})
}

var (
	fuzzLocal  = transport.Addr{Proto: transport.UDP, AddrPort: netip.MustParseAddrPort("192.0.2.1:5060")}
	fuzzRemote = transport.Addr{Proto: transport.UDP, AddrPort: netip.MustParseAddrPort("192.0.2.4:5060")}
)

// machine is a Manager with a recording transport and user.
type machine struct {
	t     *testing.T
	clock *transport.FakeClock
	mgr   *transaction.Manager

	mu       sync.Mutex
	fail     bool                                   // the transport's next send fails
	finals   map[*transaction.ServerTx]int          // server: the final code it sent
	pending  []*transaction.ServerTx                // server: awaiting the user's answer
	requests map[*transaction.ServerTx]*sip.Message // their requests (clones)
	clients  []*transaction.ClientTx
	outcomes map[*transaction.ClientTx]int // client: final outcomes reported
	branches []string                      // client branches, for inbound responses
}

func newMachine(t *testing.T) *machine {
	m := &machine{
		t:        t,
		clock:    transport.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		finals:   make(map[*transaction.ServerTx]int),
		requests: make(map[*transaction.ServerTx]*sip.Message),
		outcomes: make(map[*transaction.ClientTx]int),
	}
	m.mgr = transaction.NewManager(transaction.Config{Clock: m.clock, TimerC: 4 * time.Minute}, m, m)
	return m
}

// step runs one operation.
func (m *machine) step(op, arg byte) {
	switch op % 7 {
	case 0: // an inbound request
		m.inbound(m.request(arg))
	case 1: // an inbound response to one of our requests
		m.inbound(m.response(arg))
	case 2: // the user sends a request
		method := [...]string{"INVITE", "OPTIONS", "BYE", "REFER"}[arg%4]
		req := fmt.Sprintf("%s sip:bob@192.0.2.4 SIP/2.0\r\nMax-Forwards: 70\r\nFrom: <sip:a@192.0.2.1>;tag=f%d\r\nTo: <sip:bob@192.0.2.4>\r\nCall-ID: c%d\r\nCSeq: %d %s\r\nContact: <sip:a@192.0.2.1>\r\nContent-Length: 0\r\n\r\n", method, arg, arg, 1+arg/4, method)
		if tx, err := m.mgr.Request(fuzzRemote, []byte(req), m); err == nil {
			m.mu.Lock()
			m.clients = append(m.clients, tx)
			m.mu.Unlock()
		}
	case 3: // the user answers a pending server transaction
		m.mu.Lock()
		if len(m.pending) == 0 {
			m.mu.Unlock()
			return
		}
		i := int(arg) % len(m.pending)
		tx := m.pending[i]
		req := m.requests[tx]
		code := [...]int{100, 180, 200, 486, 487, 603, 183, 202}[arg/8%8]
		if code >= 200 && tx.Method() != "INVITE" || code >= 300 {
			m.pending = append(m.pending[:i], m.pending[i+1:]...)
		}
		m.mu.Unlock()
		tag := "t" + strconv.Itoa(int(arg%3))
		if code == 100 {
			tag = ""
		}
		m.answer(tx, req, code, tag)
	case 4: // the next send fails
		m.mu.Lock()
		m.fail = arg%2 == 0
		m.mu.Unlock()
	case 5: // time passes
		m.clock.Advance([...]time.Duration{0, 100 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 16 * time.Second, 32 * time.Second, 64 * time.Second}[arg%10])
	case 6: // the user cancels an INVITE
		m.mu.Lock()
		if len(m.clients) == 0 {
			m.mu.Unlock()
			return
		}
		tx := m.clients[int(arg)%len(m.clients)]
		m.mu.Unlock()
		if cancel, err := m.mgr.Cancel(tx, m); err == nil {
			m.mu.Lock()
			m.clients = append(m.clients, cancel)
			m.mu.Unlock()
		}
	}
}

// request builds an inbound request: a few methods, branches and tags so
// that retransmissions, ACKs and CANCELs meet their transactions.
func (m *machine) request(arg byte) []byte {
	method := [...]string{"INVITE", "ACK", "CANCEL", "OPTIONS", "BYE", "INVITE", "ACK", "NOTIFY"}[arg%8]
	branch := "z9hG4bKb" + strconv.Itoa(int(arg/8%4))
	if arg&0x80 != 0 {
		branch = "old" + strconv.Itoa(int(arg/8%2)) // RFC 2543: no magic cookie
	}
	to := "<sip:bob@192.0.2.1>"
	if arg&0x40 != 0 {
		to += ";tag=t" + strconv.Itoa(int(arg%3))
	}
	seqMethod := method
	return []byte(fmt.Sprintf("%s sip:bob@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.4:5060;branch=%s\r\nMax-Forwards: 70\r\nFrom: <sip:p@192.0.2.4>;tag=p1\r\nTo: %s\r\nCall-ID: in%d\r\nCSeq: 1 %s\r\nContact: <sip:p@192.0.2.4>\r\nContent-Length: 0\r\n\r\n",
		method, branch, to, arg/8%4, seqMethod))
}

// response builds an inbound response to one of the requests sent.
func (m *machine) response(arg byte) []byte {
	m.mu.Lock()
	if len(m.branches) == 0 {
		m.mu.Unlock()
		return nil
	}
	wire := m.branches[int(arg)%len(m.branches)]
	m.mu.Unlock()
	var req sip.Message
	if sip.Parse(&req, []byte(wire)) != nil {
		return nil
	}
	code := [...]int{100, 180, 183, 200, 202, 404, 486, 487, 500, 603, 301, 408, 200, 181, 481, 491}[arg/16]
	tag := "r" + strconv.Itoa(int(arg%3))
	return sip.AppendNoBody(sip.AppendResponse(nil, &req, code, "", tag))
}

func (m *machine) inbound(b []byte) {
	if b == nil {
		return
	}
	var msg sip.Message
	if err := sip.Parse(&msg, b); err != nil {
		m.t.Fatalf("fuzz harness built an unparsable message: %v\n%s", err, b)
	}
	m.mgr.HandleInbound(&transport.Inbound{Msg: &msg, Local: fuzzLocal, Remote: fuzzRemote, Reply: transport.ReplyTo{Remote: fuzzRemote, Local: fuzzLocal}})
}

// The machine is the Manager's transport.

func (m *machine) failing() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.fail
	m.fail = false
	return f
}

func (m *machine) SendRequest(dst transport.Addr, branch, req []byte) ([]byte, transport.Addr, error) {
	eol := bytes.Index(req, []byte("\r\n")) + 2
	wire := append(append(append([]byte(nil), req[:eol]...), "Via: SIP/2.0/UDP 192.0.2.1:5060;branch="+string(branch)+"\r\n"...), req[eol:]...)
	if m.failing() {
		return nil, dst, fmt.Errorf("fuzz: send failed")
	}
	m.mu.Lock()
	m.branches = append(m.branches, string(wire))
	m.mu.Unlock()
	return wire, dst, nil
}

func (m *machine) Send(dst transport.Addr, wire []byte) error {
	if m.failing() {
		return fmt.Errorf("fuzz: send failed")
	}
	return nil
}

func (m *machine) SendResponse(rt transport.ReplyTo, wire []byte) error {
	var resp sip.Message
	if err := sip.Parse(&resp, wire); err != nil {
		m.t.Fatalf("the Manager sent an unparsable response: %v\n%s", err, wire)
	}
	if cseq, _ := resp.CSeq(); cseq.Method == sip.MethodAck {
		m.t.Fatalf("a response to an ACK was sent:\n%s", wire)
	}
	if m.failing() {
		return fmt.Errorf("fuzz: send failed")
	}
	return nil
}

// The machine is the Manager's TU and every client transaction's handler.

func (m *machine) HandleRequest(tx *transaction.ServerTx, req *sip.Message) {
	m.mu.Lock()
	m.pending = append(m.pending, tx)
	m.requests[tx] = req.Clone()
	m.mu.Unlock()
}

func (m *machine) HandleACK(*transport.Inbound)           {}
func (m *machine) HandleStrayResponse(*transport.Inbound) {}

func (m *machine) HandleCancel(tx *transaction.ServerTx, _ *sip.Message) {
	m.mu.Lock()
	req := m.requests[tx]
	m.mu.Unlock()
	m.answer(tx, req, 487, "t0")
}

// answer has the user respond to tx, and checks that a transaction
// accepts at most one distinct final response (further 2xx to an INVITE,
// RFC 6026 §7.1).
func (m *machine) answer(tx *transaction.ServerTx, req *sip.Message, code int, tag string) {
	err := tx.Respond(sip.AppendNoBody(sip.AppendResponse(nil, req, code, "", tag)))
	if err != nil || code < 200 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	prev, seen := m.finals[tx]
	if seen && !(prev < 300 && code < 300 && tx.Method() == "INVITE") {
		m.t.Fatalf("%s transaction accepted final %d after %d", tx.Method(), code, prev)
	}
	m.finals[tx] = code
}

func (m *machine) HandleServerError(tx *transaction.ServerTx, _ error) {
	m.mu.Lock()
	for i, p := range m.pending {
		if p == tx {
			m.pending = append(m.pending[:i], m.pending[i+1:]...)
			break
		}
	}
	m.mu.Unlock()
}

func (m *machine) HandleResponse(tx *transaction.ClientTx, r transaction.Response) {
	if !r.Final() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.outcomes[tx]++
	again := tx.Method() == "INVITE" && r.Err == nil && r.Status < 300
	if m.outcomes[tx] > 1 && !again && r.Err == nil {
		m.t.Fatalf("%s transaction %s: a second final outcome %d", tx.Method(), tx.Branch(), r.Status)
	}
}
