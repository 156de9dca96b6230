// Package pgtest holds what paykit's PostgreSQL tests share: where the
// test server is, the rule that a missing server skips a test locally but
// fails it when CI is set, and a TCP proxy that takes the database away and
// brings it back without touching the server other tests use.
//
// It is for tests only, and imports no paykit package, so any package's
// tests (bunstore's own included) can use it.
package pgtest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"
)

// DefaultServerURL is the server tried when PAYKIT_TEST_DATABASE_URL is not
// set (scripts/pgtest-env.sh starts it when it is installed but down).
const DefaultServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL returns PAYKIT_TEST_DATABASE_URL, or DefaultServerURL.
func ServerURL() string {
	if u := os.Getenv("PAYKIT_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultServerURL
}

// SkipOrFail ends a test that needs PostgreSQL when none could be had
// (why says why): it skips locally, and fails when the CI environment
// variable is set, because a suite that skips in CI proves nothing.
func SkipOrFail(t testing.TB, why error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("PostgreSQL is required when CI is set (PAYKIT_TEST_DATABASE_URL or %s): %v", DefaultServerURL, why)
	}
	t.Skipf("PostgreSQL unavailable (set PAYKIT_TEST_DATABASE_URL, or run scripts/pgtest-env.sh): %v", why)
}

// WithDatabase returns server's URL with the database name replaced.
func WithDatabase(server, name string) (string, error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", fmt.Errorf("PAYKIT_TEST_DATABASE_URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// Proxy is a TCP proxy in front of a PostgreSQL server. Down refuses new
// connections and closes every open one (the database "goes away"); Up
// listens again on the same address.
type Proxy struct {
	// Addr is the proxy's host:port.
	Addr   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// StartProxy starts a proxy to target (host:port), stopped at cleanup.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p := &Proxy{target: target, conns: map[net.Conn]struct{}{}}
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgtest: proxy listen: %v", err)
	}
	p.Addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() {
		p.Down()
		p.wg.Wait()
	})
	return p
}

// Proxied returns a proxy in front of dbURL's server and dbURL through it,
// with a short dial timeout so that a down database answers quickly.
func Proxied(t testing.TB, dbURL string) (*Proxy, string) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	p := StartProxy(t, target)
	u.Host = p.Addr
	q := u.Query()
	q.Set("dial_timeout", "1s")
	u.RawQuery = q.Encode()
	return p, u.String()
}

// String names the proxy for test logs.
func (p *Proxy) String() string { return fmt.Sprintf("proxy %s -> %s", p.Addr, p.target) }

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.pipe(c)
			}()
		}
	}()
}

func (p *Proxy) pipe(c net.Conn) {
	var d net.Dialer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := d.DialContext(ctx, "tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // went down meanwhile
		p.mu.Unlock()
		_ = c.Close()
		_ = s.Close()
		return
	}
	p.conns[c], p.conns[s] = struct{}{}, struct{}{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	cp := func(dst, src net.Conn) {
		defer wg.Done()
		_ = copyConn(dst, src)
		_ = dst.Close()
		_ = src.Close()
	}
	go cp(c, s)
	go cp(s, c)
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
}

// copyConn copies with plain reads and writes (not io.Copy's splice), so
// that closing either side always ends the copy at once.
func copyConn(dst, src net.Conn) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err != nil {
			return err
		}
	}
}

// Down closes the listener and every connection.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
}

// Up listens again on the same address.
func (p *Proxy) Up(t testing.TB) {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", p.Addr)
	if err != nil {
		t.Fatalf("pgtest: proxy up: %v", err)
	}
	p.serve(ln)
}
