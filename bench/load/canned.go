package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"
)

// canned is the client-only calibration: a raw HTTP/1.1 responder that
// reads each request into a fixed buffer and writes a prebuilt response of
// the same size and headers as paykit's, allocating nothing per request.
// What a pass against it allocates and costs is the load generator's own
// share (client, transport, request building), which the report subtracts
// to give the servers' allocations per request.
type canned struct {
	ln       net.Listener
	created  []byte // 201 with the template payment
	ok       []byte // 200 with the template payment
	ack      []byte // 200, empty body
	notFound []byte
	labels   func() context.Context
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	closed   bool
}

func newCanned(ctx context.Context, tmplJSON []byte, labels func() context.Context) (*canned, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	date := time.Now().UTC().Format(http.TimeFormat)
	resp := func(status string, body []byte, contentType bool) []byte {
		var b bytes.Buffer
		b.WriteString("HTTP/1.1 " + status + "\r\n")
		if contentType {
			b.WriteString("Cache-Control: no-store\r\nContent-Type: application/json\r\n")
		}
		b.WriteString("X-Content-Type-Options: nosniff\r\nX-Request-Id: req_0123456789abcdef_1\r\n")
		b.WriteString("Date: " + date + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
		b.Write(body)
		return b.Bytes()
	}
	c := &canned{
		ln:       ln,
		created:  resp("201 Created", tmplJSON, true),
		ok:       resp("200 OK", tmplJSON, true),
		ack:      resp("200 OK", nil, false),
		notFound: resp("404 Not Found", nil, false),
		labels:   labels,
		conns:    map[net.Conn]struct{}{},
	}
	c.wg.Add(1)
	go c.accept()
	return c, nil
}

func (c *canned) url() string { return "http://" + c.ln.Addr().String() }

func (c *canned) accept() {
	defer c.wg.Done()
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			return
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			_ = conn.Close()
			return
		}
		c.conns[conn] = struct{}{}
		c.wg.Add(1)
		c.mu.Unlock()
		pprof.SetGoroutineLabels(c.labels()) // inherited by the connection's goroutine
		go c.serve(conn)
	}
}

var (
	prefixCheckout = []byte("POST /checkout ")
	prefixStatus   = []byte("GET /payments/")
	prefixWebhook  = []byte("POST /webhooks/")
	headerLength   = []byte("content-length:")
)

func (c *canned) serve(conn net.Conn) {
	defer c.wg.Done()
	defer func() {
		c.mu.Lock()
		delete(c.conns, conn)
		c.mu.Unlock()
		_ = conn.Close()
	}()
	br := bufio.NewReaderSize(conn, 16<<10)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return
		}
		var resp []byte
		switch {
		case bytes.HasPrefix(line, prefixCheckout):
			resp = c.created
		case bytes.HasPrefix(line, prefixStatus):
			resp = c.ok
		case bytes.HasPrefix(line, prefixWebhook):
			resp = c.ack
		default:
			resp = c.notFound
		}
		length := 0
		for {
			h, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(h) <= 2 { // the blank line
				break
			}
			if len(h) > len(headerLength) && bytes.EqualFold(h[:len(headerLength)], headerLength) {
				n, ok := atoiBytes(bytes.TrimSpace(h[len(headerLength):]))
				if !ok {
					return
				}
				length = n
			}
		}
		if _, err := br.Discard(length); err != nil {
			return
		}
		if _, err := conn.Write(resp); err != nil {
			return
		}
	}
}

// atoiBytes parses a small non-negative decimal without allocating.
func atoiBytes(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// close stops accepting and closes every connection.
func (c *canned) close() error {
	c.mu.Lock()
	c.closed = true
	for conn := range c.conns {
		_ = conn.Close()
	}
	c.mu.Unlock()
	err := c.ln.Close()
	c.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
