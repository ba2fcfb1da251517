//go:build linux && !(mips || mipsle || mips64 || mips64le)

package transport

// soReusePort is SO_REUSEPORT in asm-generic/socket.h.
const soReusePort = 0xf
