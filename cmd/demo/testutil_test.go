// The harness shared by the "demo ua" and "demo events" tests: a
// subcommand run in process (proc) whose JSON lines are read as written.

package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"time"
)

// procTimeout bounds every wait for a run's events.
const procTimeout = 20 * time.Second

// proc is one run of a demo subcommand in this process, its JSON event
// lines read from a pipe as it writes them.
type proc struct {
	t      *testing.T
	name   string // the subcommand, for failure messages
	addr   string // 127.0.0.1:port it listens on, set by who starts it
	cancel context.CancelFunc
	lines  chan []byte   // closed when the run has returned
	done   chan struct{} // closed when the run has returned, err set
	err    error
	log    *lockedBuffer
	seen   bytes.Buffer // event lines drain has read, for failure messages
}

// startProc starts run (runUAContext, runEventsContext) with args on a
// goroutine, its events to a pipe and its log to p.log. When the test
// ends, the run is told to exit and waited for.
func startProc(t *testing.T, name string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error, args []string) *proc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	p := &proc{t: t, name: name, cancel: cancel, lines: make(chan []byte, 1024), done: make(chan struct{}), log: &lockedBuffer{}}
	go func() {
		p.err = run(ctx, args, pw, p.log)
		pw.Close()
		close(p.done)
	}()
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.lines <- bytes.Clone(sc.Bytes())
		}
	}()
	t.Cleanup(func() {
		cancel()
		pr.Close() // a run nobody reads any more must not block writing
		select {
		case <-p.done:
		case <-time.After(procTimeout):
			t.Errorf("%s %q did not exit", name, args)
		}
	})
	return p
}

// next returns the next event line, failing the test if none comes in
// time or the run has ended.
func (p *proc) next() []byte {
	p.t.Helper()
	select {
	case line, ok := <-p.lines:
		if !ok {
			<-p.done
			p.t.Fatalf("%s exited early: %v\n%s", p.name, p.err, p.log.String())
		}
		return line
	case <-time.After(procTimeout):
		p.t.Fatalf("no event within %v\n%s", procTimeout, p.log.String())
		return nil
	}
}

// drain hands each event line to add until the run ends, and returns the
// run's error; it fails the test if the run has not ended in time.
func (p *proc) drain(add func(line []byte)) error {
	p.t.Helper()
	deadline := time.After(procTimeout)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				<-p.done
				return p.err
			}
			p.seen.Write(line)
			p.seen.WriteByte('\n')
			add(line)
		case <-deadline:
			p.t.Fatalf("%s did not exit within %v; its events:\n%s\n%s", p.name, procTimeout, p.seen.String(), p.log.String())
		}
	}
}

// stop tells the run to exit, as SIGTERM does.
func (p *proc) stop() { p.cancel() }

// lockedBuffer is a bytes.Buffer for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
