package httpkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode"
)

// errDuplicateKey is a JSON object with a key twice, or in two spellings
// that differ only in case. encoding/json matches field names without
// regard to case and keeps the last value, so a logger or firewall reading
// the first would see another request than passgate does.
var errDuplicateKey = errors.New("duplicate key")

// checkJSONKeys refuses a JSON text in which any object, at any depth,
// repeats a key up to case. It checks nothing else: malformed JSON is
// left to the decoder, which says so.
func checkJSONKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	// The keys of each open object, folded; nil for an open array.
	var open []map[string]struct{}
	for {
		inObject := len(open) > 0 && open[len(open)-1] != nil
		// In an object every token read where another member may start
		// is a key; its value is read right after it.
		atKey := inObject && dec.More()
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		if atKey {
			keys := open[len(open)-1]
			k := foldKey(tok.(string))
			if _, dup := keys[k]; dup {
				return errDuplicateKey
			}
			keys[k] = struct{}{}
			if tok, err = dec.Token(); err != nil {
				return nil
			}
		}
		switch tok {
		case json.Delim('{'):
			open = append(open, map[string]struct{}{})
		case json.Delim('['):
			open = append(open, nil)
		case json.Delim('}'), json.Delim(']'):
			open = open[:len(open)-1]
		}
	}
}

// foldKey maps a key to one spelling per case-insensitive class, with
// Unicode's simple folding as encoding/json uses it (so "K", the Kelvin
// sign, and "k" are one key).
func foldKey(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}
