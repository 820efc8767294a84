// Command verify checks a webhook that hookline signed: schemes standard
// (v1 HMAC and v1a ed25519), hmac-sha256, stripe and static. Standard
// library only. See docs/receiving.md.
//
// In your handler, copy Verify and its helpers (between the begin/end
// markers) and call it with r.Header and the body read ONCE:
//
//	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
//	err = Verify("standard", []string{secret}, r.Header, body, 300, Options{})
//
// As a command (exit 0 valid, 1 not valid with the reason on stderr, 2 usage):
//
//	go run verify.go --scheme standard --secret-file secret.txt \
//	    --header 'webhook-id: msg_1' --header 'webhook-timestamp: 1732262400' \
//	    --header 'webhook-signature: v1,...' --body-file body.json
package main

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// --- begin verify ---
var defaultSignatureHeader = map[string]string{
	"standard":    "webhook-signature",
	"hmac-sha256": "X-Webhook-Signature",
	"stripe":      "Stripe-Signature",
	"static":      "X-Secret-Key",
}

// VerificationError.Kind is one of: missing_header, malformed, stale, mismatch.
type VerificationError struct{ Kind, Msg string }

func (e *VerificationError) Error() string { return e.Kind + ": " + e.Msg }

// Options changes the header names and prefix when the endpoint does.
type Options struct {
	SignatureHeader, IDHeader, TimestampHeader string
	Prefix                                     *string // nil: "sha256="
	NowS                                       int64   // 0: the clock
}

func header(h http.Header, name string) (string, error) {
	values := h.Values(name) // canonicalizes the name: case-insensitive
	if len(values) == 0 {
		return "", &VerificationError{"missing_header", name + ": header missing"}
	}
	if len(values) > 1 {
		return "", &VerificationError{"malformed", name + ": header appears more than once"}
	}
	return strings.TrimSpace(values[0]), nil
}

func checkTimestamp(text, name string, toleranceS, nowS int64) error {
	ts, err := strconv.ParseInt(text, 10, 64)
	if err != nil || ts < 0 || strings.ContainsAny(text, "+-") {
		return &VerificationError{"malformed", name + ": not a Unix time in seconds"}
	}
	d := nowS - ts
	if d < 0 {
		d = -d
	}
	if toleranceS > 0 && d > toleranceS {
		return &VerificationError{"stale", fmt.Sprintf("%s: more than %d s from now", name, toleranceS)}
	}
	return nil
}

func mac(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// same compares in constant time; unequal lengths are simply unequal.
func same(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

func mismatch(name string) error {
	return &VerificationError{"mismatch", name + ": no signature matched any secret"}
}

func verifyStandard(secrets []string, h http.Header, body []byte, tol, now int64, o Options) error {
	id, err := header(h, o.IDHeader)
	if err != nil {
		return err
	}
	ts, err := header(h, o.TimestampHeader)
	if err != nil {
		return err
	}
	sigs, err := header(h, o.SignatureHeader)
	if err != nil {
		return err
	}
	if err := checkTimestamp(ts, o.TimestampHeader, tol, now); err != nil {
		return err
	}
	signed := append([]byte(id+"."+ts+"."), body...)
	var expected [][]byte
	var publicKeys []ed25519.PublicKey
	for _, s := range secrets {
		switch {
		case strings.HasPrefix(s, "whsec_"):
			key, err := base64.StdEncoding.DecodeString(s[6:])
			if err != nil {
				return fmt.Errorf("a whsec_ secret is not base64")
			}
			expected = append(expected, []byte(base64.StdEncoding.EncodeToString(mac(key, signed))))
		case strings.HasPrefix(s, "whpk_"):
			key, err := base64.StdEncoding.DecodeString(s[5:])
			if err != nil || len(key) != ed25519.PublicKeySize {
				return fmt.Errorf("a whpk_ key is the base64 of 32 bytes")
			}
			publicKeys = append(publicKeys, key)
		default:
			return fmt.Errorf("a standard secret starts with whsec_ (or whpk_ for v1a)")
		}
	}
	ok := false
	for _, candidate := range strings.Split(sigs, " ") {
		version, sig, found := strings.Cut(candidate, ",")
		if !found {
			continue
		}
		switch version {
		case "v1":
			for _, e := range expected { // every comparison is made
				ok = same([]byte(sig), e) || ok
			}
		case "v1a":
			raw, err := base64.StdEncoding.DecodeString(sig)
			if err != nil {
				continue
			}
			for _, k := range publicKeys {
				ok = ed25519.Verify(k, signed, raw) || ok
			}
		}
	}
	if !ok {
		return mismatch(o.SignatureHeader)
	}
	return nil
}

func verifyHMAC(secrets []string, h http.Header, body []byte, o Options) error {
	prefix := "sha256="
	if o.Prefix != nil {
		prefix = *o.Prefix
	}
	value, err := header(h, o.SignatureHeader)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(value, prefix) || len(value) != len(prefix)+64 {
		return &VerificationError{"malformed", fmt.Sprintf("%s: expected %q and 64 hex digits", o.SignatureHeader, prefix)}
	}
	got := []byte(strings.ToLower(value[len(prefix):]))
	ok := false
	for _, s := range secrets {
		ok = same(got, []byte(hex.EncodeToString(mac([]byte(s), body)))) || ok
	}
	if !ok {
		return mismatch(o.SignatureHeader)
	}
	return nil
}

func verifyStripe(secrets []string, h http.Header, body []byte, tol, now int64, o Options) error {
	value, err := header(h, o.SignatureHeader)
	if err != nil {
		return err
	}
	ts, haveTS := "", false
	var candidates [][]byte
	for _, item := range strings.Split(value, ",") {
		key, v, found := strings.Cut(strings.TrimSpace(item), "=")
		if !found {
			continue
		}
		switch key {
		case "t":
			if haveTS {
				return &VerificationError{"malformed", o.SignatureHeader + ": more than one t="}
			}
			ts, haveTS = v, true
		case "v1":
			candidates = append(candidates, []byte(strings.ToLower(v)))
		}
	}
	if !haveTS {
		return &VerificationError{"malformed", o.SignatureHeader + ": no t= timestamp"}
	}
	if err := checkTimestamp(ts, o.SignatureHeader+" t=", tol, now); err != nil {
		return err
	}
	signed := append([]byte(ts+"."), body...)
	ok := false
	for _, s := range secrets {
		expected := []byte(hex.EncodeToString(mac([]byte(s), signed)))
		for _, c := range candidates {
			ok = same(c, expected) || ok
		}
	}
	if !ok {
		return mismatch(o.SignatureHeader)
	}
	return nil
}

func verifyStatic(secrets []string, h http.Header, o Options) error {
	value, err := header(h, o.SignatureHeader)
	if err != nil {
		return err
	}
	// Compare digests, so the time taken does not depend on the lengths.
	got := sha256.Sum256([]byte(value))
	ok := false
	for _, s := range secrets {
		want := sha256.Sum256([]byte(s))
		ok = same(got[:], want[:]) || ok
	}
	if !ok {
		return &VerificationError{"mismatch", o.SignatureHeader + ": the secret does not match"}
	}
	return nil
}

// Verify returns nil if body (the raw bytes received) and h carry a valid
// signature by one of secrets (several during a rotation), a
// *VerificationError if not, or another error for a bad secret. toleranceS
// = 0 skips the timestamp check.
func Verify(scheme string, secrets []string, h http.Header, body []byte, toleranceS int64, o Options) error {
	if o.SignatureHeader == "" {
		o.SignatureHeader = defaultSignatureHeader[scheme]
	}
	if o.IDHeader == "" {
		o.IDHeader = "webhook-id"
	}
	if o.TimestampHeader == "" {
		o.TimestampHeader = "webhook-timestamp"
	}
	now := o.NowS
	if now == 0 {
		now = time.Now().Unix()
	}
	switch scheme {
	case "standard":
		return verifyStandard(secrets, h, body, toleranceS, now, o)
	case "hmac-sha256":
		return verifyHMAC(secrets, h, body, o)
	case "stripe":
		return verifyStripe(secrets, h, body, toleranceS, now, o)
	case "static":
		return verifyStatic(secrets, h, o)
	}
	return fmt.Errorf("unknown scheme %q", scheme)
}

// --- end verify ---

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var secretFiles, headers multi
	scheme := flag.String("scheme", "", "standard, hmac-sha256, stripe or static")
	flag.Var(&secretFiles, "secret-file", "a file holding one secret (repeat during a rotation)")
	flag.Var(&headers, "header", "'Name: value' (repeat)")
	headersJSON := flag.String("headers-json", "", "headers as a JSON object or [[name, value], ...]")
	bodyFile := flag.String("body-file", "", "the raw body (default: stdin)")
	tolerance := flag.Int64("tolerance", 300, "seconds; 0 skips the check")
	var o Options
	flag.StringVar(&o.SignatureHeader, "signature-header", "", "")
	prefix := flag.String("prefix", "sha256=", "")
	flag.StringVar(&o.IDHeader, "id-header", "", "")
	flag.StringVar(&o.TimestampHeader, "timestamp-header", "", "")
	flag.Parse()
	o.Prefix = prefix
	usage := func(msg string) { fmt.Fprintln(os.Stderr, "verify:", msg); os.Exit(2) }
	if _, known := defaultSignatureHeader[*scheme]; !known {
		usage("--scheme: standard, hmac-sha256, stripe or static")
	}
	var secrets []string
	for _, f := range secretFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			usage(err.Error())
		}
		secrets = append(secrets, strings.TrimRight(string(b), "\r\n"))
	}
	if len(secrets) == 0 {
		usage("give at least one --secret-file")
	}
	h := http.Header{}
	for _, line := range headers {
		name, value, found := strings.Cut(line, ":")
		if !found {
			usage("--header: expected 'Name: value'")
		}
		h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if *headersJSON != "" {
		b, err := os.ReadFile(*headersJSON)
		if err != nil {
			usage(err.Error())
		}
		var obj map[string]string
		var pairs [][2]string
		if json.Unmarshal(b, &obj) == nil {
			for k, v := range obj {
				h.Add(k, v)
			}
		} else if json.Unmarshal(b, &pairs) == nil {
			for _, p := range pairs {
				h.Add(p[0], p[1])
			}
		} else {
			usage("--headers-json: expected an object or [[name, value], ...]")
		}
	}
	var body []byte
	var err error
	if *bodyFile != "" {
		body, err = os.ReadFile(*bodyFile)
	} else {
		body, err = io.ReadAll(os.Stdin)
	}
	if err != nil {
		usage(err.Error())
	}
	if err := Verify(*scheme, secrets, h, body, *tolerance, o); err != nil {
		if _, isVerification := err.(*VerificationError); isVerification {
			fmt.Fprintln(os.Stderr, "not valid:", err)
			os.Exit(1)
		}
		usage(err.Error())
	}
	fmt.Printf("valid (%s)\n", *scheme)
}
