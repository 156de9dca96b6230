//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package bunstore

import "net"

// connDead cannot peek at sockets on this platform: a dead connection is
// found by the query that uses it, and the Store retries that query.
func connDead(net.Conn) bool { return false }
