//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package bunstore

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
)

// connDead reports whether an idle database connection is unusable: the
// server closed it, or sent something unasked (PostgreSQL sends a FATAL
// error before closing a terminated backend). It peeks at the socket
// without blocking and without consuming anything, so a live connection is
// untouched.
func connDead(c net.Conn) bool {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	dead := false
	err = rc.Read(func(fd uintptr) bool {
		var buf [1]byte
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case rerr == nil:
			dead = true // 0 bytes is EOF; more is data nobody asked for
		case errors.Is(rerr, syscall.EAGAIN), errors.Is(rerr, syscall.EWOULDBLOCK), errors.Is(rerr, syscall.EINTR):
			dead = false
		default:
			dead = true
		}
		return true // never wait
	})
	return err != nil || dead
}
