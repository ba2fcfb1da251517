package transport

import (
	"net/netip"
	"syscall"
	"testing"
)

// ListenUDP asks the kernel for Config.UDPBuffer bytes of receive buffer
// (Linux reports double what was set, capped by net.core.rmem_max).
func TestUDPReceiveBuffer(t *testing.T) {
	for _, tc := range []struct {
		size, atLeast int
	}{
		{0, 2 * 256 << 10},       // the default asks for 4 MiB; any sane cap exceeds 256 KiB
		{1 << 20, 2 * 256 << 10}, // an explicit size
	} {
		l := New(Config{UDPBuffer: tc.size}, HandlerFunc(func(*Inbound) {}))
		if _, err := l.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
			t.Fatal(err)
		}
		rc, err := l.udps[0].pcs[0].SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var got int
		var serr error
		if err := rc.Control(func(fd uintptr) {
			got, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
		}); err != nil || serr != nil {
			t.Fatal(err, serr)
		}
		if got < tc.atLeast {
			t.Errorf("UDPBuffer %d: SO_RCVBUF %d, want at least %d", tc.size, got, tc.atLeast)
		}
		l.Close()
	}
}
