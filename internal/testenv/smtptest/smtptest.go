// Package smtptest is a small SMTP server for tests: it listens on
// loopback, speaks enough of the protocol for a real client (EHLO,
// STARTTLS, AUTH PLAIN and LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and
// records the messages it accepts. It can also misbehave on purpose:
// refuse recipients or messages, take its time, hold its answer until the
// test lets go, or accept connections and never answer.
package smtptest

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/internal/testenv/testcert"
)

// Options shape the server's behaviour.
type Options struct {
	// Implicit: TLS from the first byte.
	Implicit bool
	// StartTLS: offer STARTTLS.
	StartTLS bool
	// Users, if not nil, makes AUTH required, with these passwords.
	Users map[string]string
	// Mechanisms offered for AUTH; default "PLAIN LOGIN".
	Mechanisms string
	// RejectRcpt answers every RCPT with 550.
	RejectRcpt bool
	// Silent accepts connections and never says a word.
	Silent bool
	// RejectData answers 554 to every message, once its data is read. The
	// message still reaches Next, with Refused set, so that a test can see
	// what was refused.
	RejectData bool
	// Hold, if not nil, holds the answer to each message's data until a
	// value is received from it (or it is closed). The message reaches
	// Next before.
	Hold <-chan struct{}
	// Delay, if not nil, says how long to wait before answering each
	// message's data, as a real server's checks take time.
	Delay func() time.Duration
	// Discard counts messages (Accepted) without keeping them for Next,
	// for loads that nobody reads.
	Discard bool
}

// Message is one accepted message.
type Message struct {
	From string
	To   []string
	Data []byte
	// TLS tells whether the message came over TLS; Auth names the user and
	// AuthMech the mechanism, if the client authenticated.
	TLS      bool
	Auth     string
	AuthMech string
	// Refused: the server answered 554 (Options.RejectData).
	Refused bool
}

// Server is a running test server.
type Server struct {
	// Addr is host:port on 127.0.0.1.
	Addr string
	// Roots trusts the server's self-signed certificate.
	Roots *x509.CertPool

	opts      Options
	ln        net.Listener
	tlsc      *tls.Config
	msgs      chan Message
	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup
	done      chan struct{} // closed by Close: held answers give up
	closeOnce sync.Once
	accepted  atomic.Int64
}

// Start runs a server until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Mechanisms == "" {
		opts.Mechanisms = "PLAIN LOGIN"
	}
	cert, roots := selfSigned(t)
	s := &Server{
		Roots: roots,
		opts:  opts,
		tlsc:  &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		msgs:  make(chan Message, 100),
		conns: make(map[net.Conn]struct{}),
		done:  make(chan struct{}),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Implicit {
		ln = tls.NewListener(ln, s.tlsc)
	}
	s.ln = ln
	s.Addr = ln.Addr().String()
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.Close)
	return s
}

// ClientTLS returns a client TLS config trusting the server.
func (s *Server) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: s.Roots, MinVersion: tls.VersionTLS12}
}

// Close stops the server and drops every connection.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Next waits up to 10s for the next accepted message.
func (s *Server) Next(t testing.TB) Message {
	t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message reached the SMTP server within 10s")
		return Message{}
	}
}

// Pending returns the number of accepted messages not yet taken by Next.
func (s *Server) Pending() int { return len(s.msgs) }

// Accepted returns the number of messages answered 250 so far.
func (s *Server) Accepted() int { return int(s.accepted.Load()) }

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
			if s.opts.Silent {
				_, _ = c.Read(make([]byte, 1)) // until the client gives up or Close
				return
			}
			s.serve(c)
		}()
	}
}

type session struct {
	s       *Server
	conn    net.Conn
	tp      *textproto.Conn
	tls     bool
	user    string
	mech    string
	from    string
	to      []string
	greeted bool
}

func (s *Server) serve(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	_, isTLS := c.(*tls.Conn)
	ss := &session{s: s, conn: c, tp: textproto.NewConn(c), tls: isTLS}
	ss.reply(220, "127.0.0.1 ESMTP smtptest")
	for {
		line, err := ss.tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		if !ss.handle(strings.ToUpper(verb), arg) {
			return
		}
	}
}

func (ss *session) reply(code int, lines ...string) {
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		_ = ss.tp.PrintfLine("%d%s%s", code, sep, l)
	}
}

// handle answers one command; false ends the connection.
func (ss *session) handle(verb, arg string) bool {
	o := ss.s.opts
	switch verb {
	case "EHLO", "HELO":
		ss.greeted = true
		lines := []string{"127.0.0.1 greets " + arg, "8BITMIME"}
		if o.StartTLS && !ss.tls {
			lines = append(lines, "STARTTLS")
		}
		if o.Users != nil {
			lines = append(lines, "AUTH "+o.Mechanisms)
		}
		ss.reply(250, lines...)
	case "STARTTLS":
		if !o.StartTLS || ss.tls {
			ss.reply(502, "STARTTLS not available")
			return true
		}
		ss.reply(220, "go ahead")
		tc := tls.Server(ss.conn, ss.s.tlsc)
		if err := tc.Handshake(); err != nil {
			return false
		}
		ss.conn, ss.tp, ss.tls, ss.greeted = tc, textproto.NewConn(tc), true, false
		ss.s.mu.Lock()
		ss.s.conns[tc] = struct{}{}
		ss.s.mu.Unlock()
	case "AUTH":
		ss.auth(arg)
	case "MAIL":
		if o.Users != nil && ss.user == "" {
			ss.reply(530, "authentication required")
			return true
		}
		addr, ok := path(arg, "FROM:")
		if !ok {
			ss.reply(501, "syntax: MAIL FROM:<address>")
			return true
		}
		ss.from, ss.to = addr, nil
		ss.reply(250, "ok")
	case "RCPT":
		addr, ok := path(arg, "TO:")
		switch {
		case !ok:
			ss.reply(501, "syntax: RCPT TO:<address>")
		case ss.from == "":
			ss.reply(503, "MAIL first")
		case o.RejectRcpt:
			ss.reply(550, "no such mailbox")
		default:
			ss.to = append(ss.to, addr)
			ss.reply(250, "ok")
		}
	case "DATA":
		if len(ss.to) == 0 {
			ss.reply(503, "RCPT first")
			return true
		}
		ss.reply(354, "end with <CRLF>.<CRLF>")
		data, err := ss.tp.ReadDotBytes()
		if err != nil {
			return false
		}
		if !o.Discard {
			select {
			case ss.s.msgs <- Message{From: ss.from, To: ss.to, Data: data, TLS: ss.tls, Auth: ss.user, AuthMech: ss.mech, Refused: o.RejectData}:
			case <-ss.s.done: // a full queue nobody reads
				return false
			}
		}
		ss.from, ss.to = "", nil
		if o.Hold != nil {
			select {
			case <-o.Hold:
			case <-ss.s.done:
				return false
			}
		}
		if o.Delay != nil {
			t := time.NewTimer(o.Delay())
			select {
			case <-t.C:
			case <-ss.s.done:
				t.Stop()
				return false
			}
		}
		if o.RejectData {
			ss.reply(554, "message refused")
			return true
		}
		ss.s.accepted.Add(1)
		ss.reply(250, "queued")
	case "RSET":
		ss.from, ss.to = "", nil
		ss.reply(250, "ok")
	case "NOOP":
		ss.reply(250, "ok")
	case "QUIT":
		ss.reply(221, "bye")
		return false
	default:
		ss.reply(502, "command not implemented")
	}
	return true
}

func (ss *session) auth(arg string) {
	o := ss.s.opts
	mech, initial, _ := strings.Cut(arg, " ")
	mech = strings.ToUpper(mech)
	if o.Users == nil || !strings.Contains(" "+o.Mechanisms+" ", " "+mech+" ") {
		ss.reply(504, "mechanism not available")
		return
	}
	read := func(prompt string) (string, bool) {
		ss.reply(334, prompt)
		l, err := ss.tp.ReadLine()
		if err != nil || l == "*" {
			return "", false
		}
		b, err := base64.StdEncoding.DecodeString(l)
		return string(b), err == nil
	}
	var user, pass string
	switch mech {
	case "PLAIN":
		var resp string
		ok := true
		if initial != "" {
			b, err := base64.StdEncoding.DecodeString(initial)
			resp, ok = string(b), err == nil
		} else {
			resp, ok = read("")
		}
		parts := strings.Split(resp, "\x00")
		if !ok || len(parts) != 3 {
			ss.reply(501, "malformed PLAIN response")
			return
		}
		user, pass = parts[1], parts[2]
	case "LOGIN":
		var ok1, ok2 bool
		user, ok1 = read(base64.StdEncoding.EncodeToString([]byte("Username:")))
		if ok1 {
			pass, ok2 = read(base64.StdEncoding.EncodeToString([]byte("Password:")))
		}
		if !ok1 || !ok2 {
			ss.reply(501, "malformed LOGIN response")
			return
		}
	}
	if want, ok := o.Users[user]; !ok || want != pass {
		ss.reply(535, "authentication failed")
		return
	}
	ss.user, ss.mech = user, mech
	ss.reply(235, "authenticated")
}

// path extracts the address of "FROM:<a@b> PARAMS".
func path(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest := strings.TrimSpace(arg[len(prefix):])
	if !strings.HasPrefix(rest, "<") {
		return "", false
	}
	end := strings.IndexByte(rest, '>')
	if end < 0 {
		return "", false
	}
	return rest[1:end], true
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a pool
// that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	leaf, key := testcert.Make(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "smtptest"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}, nil, nil)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}, pool
}
