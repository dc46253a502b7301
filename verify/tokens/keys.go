package tokens

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// Signature algorithms a key may have. Each key has exactly one, and a
// token is verified only with a key of the algorithm its header names, so
// no token can pick its own algorithm.
const (
	AlgEdDSA = "EdDSA"
	AlgES256 = "ES256"
)

// Key is one signing key. A key without a private half only verifies:
// keep a retired key's public half until the tokens it signed have expired.
type Key struct {
	// ID is the key's kid, which names it in token headers and the JWKS.
	ID string
	// Alg is AlgEdDSA or AlgES256.
	Alg     string
	private crypto.Signer
	public  crypto.PublicKey
}

// CanSign says whether the key has its private half.
func (k Key) CanSign() bool { return k.private != nil }

// DeriveEd25519 makes the Ed25519 key whose seed is the given 32 bytes.
// Its kid is its RFC 7638 thumbprint, so every instance deriving it from
// the same secret agrees on both.
func DeriveEd25519(seed []byte) (Key, error) {
	if len(seed) != ed25519.SeedSize {
		return Key{}, fmt.Errorf("ed25519 seed is %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	k := Key{Alg: AlgEdDSA, private: priv, public: priv.Public()}
	k.ID = k.thumbprint()
	return k, nil
}

// ParsePEM reads a key from PEM: a private key (PKCS #8 "PRIVATE KEY", or
// SEC 1 "EC PRIVATE KEY"), or a public key ("PUBLIC KEY") that only
// verifies. Ed25519 and ECDSA P-256 keys are accepted. An empty kid is
// replaced by the key's RFC 7638 thumbprint.
func ParsePEM(kid string, data []byte) (Key, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return Key{}, errors.New("no PEM block found")
	}
	var raw any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		raw, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		raw, err = x509.ParseECPrivateKey(block.Bytes)
	case "PUBLIC KEY":
		raw, err = x509.ParsePKIXPublicKey(block.Bytes)
	default:
		return Key{}, fmt.Errorf("PEM block %q: want PRIVATE KEY, EC PRIVATE KEY or PUBLIC KEY", block.Type)
	}
	if err != nil {
		return Key{}, err
	}
	var k Key
	switch v := raw.(type) {
	case ed25519.PrivateKey:
		k = Key{Alg: AlgEdDSA, private: v, public: v.Public()}
	case ed25519.PublicKey:
		k = Key{Alg: AlgEdDSA, public: v}
	case *ecdsa.PrivateKey:
		if v.Curve != elliptic.P256() {
			return Key{}, errors.New("ECDSA key is not on P-256 (ES256)")
		}
		k = Key{Alg: AlgES256, private: v, public: &v.PublicKey}
	case *ecdsa.PublicKey:
		if v.Curve != elliptic.P256() {
			return Key{}, errors.New("ECDSA key is not on P-256 (ES256)")
		}
		k = Key{Alg: AlgES256, public: v}
	default:
		return Key{}, fmt.Errorf("unsupported key type %T: want Ed25519 or ECDSA P-256", raw)
	}
	k.ID = kid
	if k.ID == "" {
		k.ID = k.thumbprint()
	}
	return k, nil
}

// jwk is the public half of a key as a JSON Web Key.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y,omitempty"`
	Kid string `json:"kid,omitempty"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
	// KeyOps is GoTrue's way of saying what the key is for.
	KeyOps []string `json:"key_ops,omitempty"`
}

func (k Key) jwk() jwk {
	b64 := base64.RawURLEncoding.EncodeToString
	switch pub := k.public.(type) {
	case ed25519.PublicKey:
		return jwk{Kty: "OKP", Crv: "Ed25519", X: b64(pub), Kid: k.ID, Alg: k.Alg, Use: "sig"}
	case *ecdsa.PublicKey:
		raw, _ := pub.Bytes() // 0x04 || X || Y, each 32 bytes on P-256
		return jwk{Kty: "EC", Crv: "P-256", X: b64(raw[1:33]), Y: b64(raw[33:65]), Kid: k.ID, Alg: k.Alg, Use: "sig"}
	}
	return jwk{}
}

// thumbprint is the RFC 7638 thumbprint: SHA-256 of the required members
// in lexical order.
func (k Key) thumbprint() string {
	j := k.jwk()
	var canon []byte
	if j.Kty == "EC" {
		canon, _ = json.Marshal(struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{j.Crv, j.Kty, j.X, j.Y})
	} else {
		canon, _ = json.Marshal(struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
		}{j.Crv, j.Kty, j.X})
	}
	sum := sha256.Sum256(canon)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// DeriveES256 makes the ECDSA P-256 key whose scalar is the given 32
// bytes (hashed again, in the rare case they are not below the curve's
// order). Its kid is its RFC 7638 thumbprint, as DeriveEd25519's.
func DeriveES256(seed []byte) (Key, error) {
	if len(seed) != 32 {
		return Key{}, fmt.Errorf("ES256 seed is %d bytes, want 32", len(seed))
	}
	for {
		priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), seed)
		if err == nil {
			k := Key{Alg: AlgES256, private: priv, public: &priv.PublicKey}
			k.ID = k.thumbprint()
			return k, nil
		}
		sum := sha256.Sum256(seed)
		seed = sum[:]
	}
}

// ValidKid reports whether s may be a key id: 1 to 64 letters, digits,
// ., _ and -.
func ValidKid(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '_' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return s != "" && len(s) <= 64
}
