package srtp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func material(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return b
}

func TestParseCrypto(t *testing.T) {
	k30 := base64.StdEncoding.EncodeToString(material(30))
	k30raw := base64.RawStdEncoding.EncodeToString(material(30))
	k28 := base64.StdEncoding.EncodeToString(material(28))
	k44 := base64.RawStdEncoding.EncodeToString(material(44))
	k46 := base64.StdEncoding.EncodeToString(material(46))
	good := []struct {
		v     string
		tag   int
		suite Suite
	}{
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + k30, 1, AES128CMSHA1_80},
		{"2 AES_CM_128_HMAC_SHA1_32 inline:" + k30raw, 2, AES128CMSHA1_32},
		{"3 aes_cm_128_hmac_sha1_80 inline:" + k30 + "|2^31", 3, AES128CMSHA1_80},
		{"4 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + "|1048576 KDR=0 WSH=128 -FOO", 4, AES128CMSHA1_80},
		{"5 AEAD_AES_128_GCM inline:" + k28, 5, AEADAES128GCM},
		{"6 AEAD_AES_256_GCM inline:" + k44, 6, AEADAES256GCM},
		{"7 AES_256_CM_HMAC_SHA1_80 INLINE:" + k46, 7, AES256CMSHA1_80},
		{"123456789\tAES_256_CM_HMAC_SHA1_32  inline:" + k46, 123456789, AES256CMSHA1_32},
	}
	for _, g := range good {
		c, err := ParseCrypto(g.v)
		if err != nil {
			t.Errorf("%q: %v", g.v, err)
			continue
		}
		if c.Tag != g.tag || c.Suite() != g.suite {
			t.Errorf("%q: tag %d suite %v", g.v, c.Tag, c.Suite())
		}
		back, err := ParseCrypto(c.Value())
		if err != nil || !back.Key.Equal(c.Key) || back.Tag != c.Tag {
			t.Errorf("%q: Value does not parse back: %v", g.v, err)
		}
	}

	bad := []struct {
		name, v string
		want    error
	}{
		{"empty", "", ErrCrypto},
		{"two fields", "1 AES_CM_128_HMAC_SHA1_80", ErrCrypto},
		{"tag not digits", "x AES_CM_128_HMAC_SHA1_80 inline:" + k30, ErrCrypto},
		{"tag too long", "1234567890 AES_CM_128_HMAC_SHA1_80 inline:" + k30, ErrCrypto},
		{"negative tag", "-1 AES_CM_128_HMAC_SHA1_80 inline:" + k30, ErrCrypto},
		{"unknown suite", "1 F8_128_HMAC_SHA1_80 inline:" + k30, ErrSuite},
		{"null cipher", "1 NULL_HMAC_SHA1_80 inline:" + k30, ErrSuite},
		{"no method", "1 AES_CM_128_HMAC_SHA1_80 " + k30, ErrCrypto},
		{"other method", "1 AES_CM_128_HMAC_SHA1_80 uri:" + k30, ErrCrypto},
		{"not base64", "1 AES_CM_128_HMAC_SHA1_80 inline:!!!!", ErrCrypto},
		{"empty key", "1 AES_CM_128_HMAC_SHA1_80 inline:", ErrCrypto},
		{"short key", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k28, ErrKeyLength},
		{"long key", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k44, ErrKeyLength},
		{"GCM with a CM key", "1 AEAD_AES_128_GCM inline:" + k30, ErrKeyLength},
		{"huge key", "1 AES_CM_128_HMAC_SHA1_80 inline:" + strings.Repeat("A", 200), ErrCrypto},
		{"bad lifetime", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + "|2^x", ErrCrypto},
		{"huge lifetime exponent", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + "|2^99", ErrCrypto},
		{"too many key fields", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + "|2^31|1:1|x", ErrCrypto},
		{"MKI", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + "|2^31|1:4", ErrParam},
		{"bad MKI", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + "|1:999", ErrCrypto},
		{"two keys", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + ";inline:" + k30, ErrParam},
		{"KDR", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + " KDR=1", ErrParam},
		{"unencrypted", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + " UNENCRYPTED_SRTP", ErrParam},
		{"unauthenticated", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + " UNAUTHENTICATED_SRTP", ErrParam},
		{"FEC", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + " FEC_ORDER=FEC_SRTP", ErrParam},
		{"unknown param", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + " FOO", ErrParam},
		{"small WSH", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + " WSH=8", ErrCrypto},
		{"too long", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + strings.Repeat(" -X", 400), ErrCrypto},
	}
	for _, b := range bad {
		_, err := ParseCrypto(b.v)
		if !errors.Is(err, b.want) {
			t.Errorf("%s: %v, want %v", b.name, err, b.want)
		}
		if err != nil && (strings.Contains(err.Error(), k30) || strings.Contains(err.Error(), k30raw[:20])) {
			t.Errorf("%s: the error quotes the key: %v", b.name, err)
		}
	}
}

func FuzzParseCrypto(f *testing.F) {
	k30 := base64.StdEncoding.EncodeToString(material(30))
	for _, s := range []string{
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + k30,
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + "|2^31|1:1 KDR=0",
		"9 AEAD_AES_256_GCM inline:" + base64.StdEncoding.EncodeToString(material(44)) + " WSH=64",
		"", "1", "1 X inline:", "1 AES_CM_128_HMAC_SHA1_80 inline:|||",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		c, err := ParseCrypto(v)
		if err != nil {
			if !errors.Is(err, ErrCrypto) && !errors.Is(err, ErrSuite) && !errors.Is(err, ErrParam) {
				t.Fatalf("error of no sentinel: %v", err)
			}
			return
		}
		back, err := ParseCrypto(c.Value())
		if err != nil || !back.Key.Equal(c.Key) || back.Tag != c.Tag {
			t.Fatalf("Value does not parse back: %v", err)
		}
	})
}

// TestKeyNeverPrints: every way a Key or Keys may be written shows no material.
func TestKeyNeverPrints(t *testing.T) {
	k, err := NewKey(AES128CMSHA1_80, material(30))
	if err != nil {
		t.Fatal(err)
	}
	secret := [][]byte{material(30), []byte(k.Inline()), []byte(base64.RawStdEncoding.EncodeToString(material(30)))}
	type holder struct {
		Key  Key
		Keys Keys
		Ptr  *Keys
	}
	h := holder{Key: k, Keys: Keys{Recv: k, Send: k}, Ptr: &Keys{Recv: k}}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		outs = append(outs, sprintf(verb, k), sprintf(verb, h), sprintf(verb, h.Keys), sprintf(verb, []Key{k}))
	}
	js, _ := jsonMarshal(h)
	outs = append(outs, string(js), Crypto{Tag: 1, Key: k}.String())
	for _, o := range outs {
		for _, s := range secret {
			if bytes.Contains([]byte(o), s) || strings.Contains(o, hexOf(material(30))[:16]) {
				t.Fatalf("key material in %q", o)
			}
		}
	}
	if !strings.Contains(sprintf("%v", k), k.Fingerprint()) || len(k.Fingerprint()) != 16 {
		t.Errorf("no fingerprint in %v", k)
	}
}
