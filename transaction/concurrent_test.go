package transaction

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// goLink is a Transport that delivers every send to the peer Manager on a
// goroutine of its own, losing some: the transport's reading goroutines,
// the SystemClock's timer goroutines and the TUs all run at once.
type goLink struct {
	peer     *Manager
	sentBy   string
	from, to netip.AddrPort
	wg       *sync.WaitGroup
	mu       sync.Mutex
	rng      *rand.Rand
}

func (l *goLink) lose() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rng.Float64() < 0.2
}

func (l *goLink) deliver(wire []byte) {
	if l.lose() {
		return
	}
	b := append([]byte(nil), wire...)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		var msg sip.Message
		if sip.Parse(&msg, b) == nil {
			l.peer.HandleInbound(inbound(&msg, transport.UDP, l.from, l.to))
		}
	}()
}

func (l *goLink) SendRequest(dst transport.Addr, branch, req []byte) ([]byte, transport.Addr, error) {
	wire := insertVia(nil, req, dst.Proto, l.sentBy, branch)
	l.deliver(wire)
	return wire, dst, nil
}

func (l *goLink) Send(_ transport.Addr, wire []byte) error { l.deliver(wire); return nil }

func (l *goLink) SendResponse(_ transport.ReplyTo, wire []byte) error { l.deliver(wire); return nil }

// TestConcurrent: eight goroutines each send 40 requests with Do through
// the lossy goroutine link, with the real clock and short timers, while the
// server TU answers from the transport's goroutines. Every Do gets its
// right answer. Run with -race.
func TestConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	cfg := Config{T1: 2 * time.Millisecond, T2: 16 * time.Millisecond, T4: 20 * time.Millisecond}
	toServer := &goLink{sentBy: "192.0.2.1:5060", from: clientAddr, to: serverAddr, wg: &wg, rng: rand.New(rand.NewSource(1))}
	toClient := &goLink{sentBy: "192.0.2.4:5060", from: serverAddr, to: clientAddr, wg: &wg, rng: rand.New(rand.NewSource(2))}
	answer := &concurrentTU{}
	client := NewManager(cfg, toServer, nil)
	server := NewManager(cfg, toClient, answer)
	toServer.peer, toClient.peer = server, client

	var done sync.WaitGroup
	errs := make(chan error, 8*40)
	for g := 0; g < 8; g++ {
		done.Add(1)
		go func(g int) {
			defer done.Done()
			for i := 0; i < 40; i++ {
				n := g*1000 + i
				req := strings.Replace(optionsReq, "Call-ID: ", fmt.Sprintf("Call-ID: c%d-", n), 1)
				req = strings.Replace(req, "CSeq: 63104", fmt.Sprintf("CSeq: %d", n+1), 1)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				resp, err := client.Do(ctx, addr(transport.UDP, serverAddr), []byte(req))
				cancel()
				switch {
				case errors.Is(err, ErrTimeout):
					// Possible, if improbable, with 20 % loss and 11 tries.
				case err != nil:
					errs <- err
				case resp.StatusCode() != 200+n%7:
					errs <- fmt.Errorf("request %d: got %d", n, resp.StatusCode())
				}
			}
		}(g)
	}
	done.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	client.Close()
	server.Close()
	wg.Wait()
	if c, s := client.Transactions(); c+s != 0 {
		t.Errorf("client left %d %d", c, s)
	}
	if c, s := server.Transactions(); c+s != 0 {
		t.Errorf("server left %d %d", c, s)
	}
}

// concurrentTU answers request n with 200+n%7, a provisional first for
// some.
type concurrentTU struct{ nopTU }

func (concurrentTU) HandleRequest(tx *ServerTx, req *sip.Message) {
	c, _ := req.CSeq()
	n := int(c.Seq) - 1
	if n%2 == 0 {
		tx.Respond(sip.AppendNoBody(sip.AppendResponse(nil, req, 100, "", "")))
	}
	tx.Respond(sip.AppendNoBody(sip.AppendResponse(nil, req, 200+n%7, "", "t")))
}
