//go:build linux

package transport

import "syscall"

// reusePortSupported: Linux (3.9 on) spreads the datagrams of one address
// over the sockets bound to it with SO_REUSEPORT by a hash of the 4-tuple.
// Other systems either lack the option or deliver unicast datagrams to one
// socket only.
const reusePortSupported = true

// setReusePort sets SO_REUSEPORT on fd. The syscall package defines the
// constant only for some Linux architectures; its value is soReusePort.
func setReusePort(fd uintptr) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
}
