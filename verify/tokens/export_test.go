package tokens

import "github.com/golang-jwt/jwt/v5"

// SignRaw signs claims with k as given, kid and header fields included:
// for tests that forge tokens.
func SignRaw(k Key, header map[string]any, claims jwt.MapClaims) (string, error) {
	method := jwt.SigningMethod(jwt.SigningMethodEdDSA)
	if k.Alg == AlgES256 {
		method = jwt.SigningMethodES256
	}
	t := jwt.NewWithClaims(method, claims)
	t.Header["kid"] = k.ID
	for h, v := range header {
		t.Header[h] = v
	}
	return t.SignedString(k.private)
}
