package redisenv

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/passgate/caddy-passgate/internal/testenv/testcert"
)

// TLSFiles are the PEM files of a CA made for one test and of the server
// certificate it signed, which every node of the environment presents (for
// 127.0.0.1, ::1 and localhost; usable for client authentication too, as
// replicas and the cluster bus present it).
type TLSFiles struct {
	CAFile, CertFile, KeyFile string
	pool                      *x509.CertPool
}

// ClientConfig trusts the CA. It names no server: Go then checks each
// node's certificate against the address dialled (127.0.0.1), which is what
// a cluster client needs, as it dials nodes it learns of.
func (f *TLSFiles) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: f.pool, MinVersion: tls.VersionTLS12}
}

func newTLSFiles(t testing.TB) *TLSFiles {
	t.Helper()
	dir := t.TempDir()
	ca, caKey := testcert.Make(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "redisenv test CA"},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil, nil)
	leaf, key := testcert.Make(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}, ca, caKey)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	f := &TLSFiles{
		CAFile:   filepath.Join(dir, "ca.crt"),
		CertFile: filepath.Join(dir, "server.crt"),
		KeyFile:  filepath.Join(dir, "server.key"),
		pool:     x509.NewCertPool(),
	}
	f.pool.AddCert(ca)
	write := func(path, typ string, der []byte) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(f.CAFile, "CERTIFICATE", ca.Raw)
	write(f.CertFile, "CERTIFICATE", leaf.Raw)
	write(f.KeyFile, "PRIVATE KEY", keyDER)
	return f
}
