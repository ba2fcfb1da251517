//go:build !linux

package transport

import "errors"

// reusePortSupported is false: ListenUDP binds one socket whatever
// Config.UDPReaders says (see reuseport_linux.go).
const reusePortSupported = false

func setReusePort(fd uintptr) error {
	return errors.New("transport: SO_REUSEPORT load balancing needs Linux")
}
