package ng

import (
	"bytes"
	"fmt"
)

// maxCookie bounds a message cookie. rtpengine's clients send short ones ("5323_1",
// Kamailio's "pid_n_m"); a long one is more likely garbage than a client.
const maxCookie = 64

// ParseMessage splits a datagram "cookie dict" into the cookie and the decoded
// dictionary. err wraps ErrBencode when the dictionary does not decode, ErrMessage when
// the framing is wrong; the cookie is returned whenever one was found, so that an error
// can still be answered.
func ParseMessage(b []byte) (cookie string, dict map[string]any, err error) {
	sp := bytes.IndexByte(b, ' ')
	if sp < 1 || sp > maxCookie {
		return "", nil, fmt.Errorf("%w: no cookie of 1..%d bytes before a space", ErrMessage, maxCookie)
	}
	for _, c := range b[:sp] {
		if c < 0x21 || c > 0x7e {
			return "", nil, fmt.Errorf("%w: cookie holds a byte that is not printable ASCII", ErrMessage)
		}
	}
	cookie = string(b[:sp])
	v, err := DecodeBencode(b[sp+1:])
	if err != nil {
		return cookie, nil, err
	}
	d, ok := v.(map[string]any)
	if !ok {
		return cookie, nil, fmt.Errorf("%w: the message is not a dictionary", ErrBencode)
	}
	return cookie, d, nil
}

// AppendMessage appends "cookie dict" to b.
func AppendMessage(b []byte, cookie string, dict map[string]any) ([]byte, error) {
	b = append(append(b, cookie...), ' ')
	return AppendBencode(b, dict)
}
