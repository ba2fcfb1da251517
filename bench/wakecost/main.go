// Command wakecost measures the CPU a Go process spends per UDP datagram
// when datagrams come one at a time, spaced out: the floor under any Go
// SIP element at moderate load, where each message finds the process
// asleep. A child process echoes each datagram back (read, write, nothing
// else, through package net as the transport does); the parent sends one,
// waits for the echo, pauses for the gap, and so on. The child reports its
// CPU time (user+system, getrusage) per datagram.
//
//	go run ./bench/wakecost -gap 100us -n 20000
//
// docs/LOAD.md ("The floor") compares it with the CPU per transfer of
// demo ua under SIPp: a transfer brings the UA 8 datagrams.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	gap := flag.Duration("gap", 100*time.Microsecond, "pause between an echo and the next datagram")
	n := flag.Int("n", 20000, "datagrams to send")
	size := flag.Int("size", 500, "bytes per datagram")
	server := flag.String("server", "", "internal: echo on this address")
	flag.Parse()
	if *server != "" {
		if err := echo(*server); err != nil {
			fmt.Fprintln(os.Stderr, "wakecost:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*gap, *n, *size); err != nil {
		fmt.Fprintln(os.Stderr, "wakecost:", err)
		os.Exit(1)
	}
}

// cpu returns the user+system time the process has used.
func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// echo answers each datagram with itself until a 1-byte one comes, then
// prints its CPU time per datagram echoed.
func echo(addr string) error {
	a, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return err
	}
	c, err := net.ListenUDP("udp", a)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Println("ready")
	buf := make([]byte, 65536)
	var start time.Duration
	for n := 0; ; n++ {
		m, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return err
		}
		if m == 1 {
			fmt.Printf("%d datagrams, %.1f µs of CPU each\n", n, float64(cpu()-start)/float64(n)/1e3)
			return nil
		}
		if n == 0 {
			start = cpu() // from the first wake-up on
		}
		if _, err := c.WriteToUDPAddrPort(buf[:m], from); err != nil {
			return err
		}
	}
}

func run(gap time.Duration, n, size int) error {
	l, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	addr := l.LocalAddr().String()
	l.Close() // a free port for the child
	child := exec.Command(os.Args[0], "-server", addr)
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return err
	}
	lines := bufio.NewReader(out)
	if _, err := lines.ReadString('\n'); err != nil { // "ready"
		return err
	}
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	msg := make([]byte, size)
	buf := make([]byte, 65536)
	for range n {
		if _, err := c.Write(msg); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(buf); err != nil {
			return err
		}
		if gap > 0 {
			time.Sleep(gap)
		}
	}
	if _, err := c.Write([]byte{0}); err != nil {
		return err
	}
	report, err := lines.ReadString('\n')
	if err != nil {
		return err
	}
	fmt.Printf("gap %v: %s", gap, report)
	return child.Wait()
}
