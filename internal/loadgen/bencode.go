package loadgen

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
)

// Bencode is the encoding of rtpengine's ng control protocol (BitTorrent BEP 3: byte
// strings "4:spam", integers "i42e", lists "l...e", dictionaries "d...e" with byte-string
// keys in sorted order). Values decode to string, int64, []any and map[string]any.

// maxBencodeDepth bounds nesting so hostile input cannot exhaust the stack.
const maxBencodeDepth = 32

// AppendBencode appends the encoding of v: string, []byte, int, int64, []string, []any or
// map[string]any (keys written sorted, as BEP 3 requires).
func AppendBencode(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		b = strconv.AppendInt(b, int64(len(x)), 10)
		b = append(b, ':')
		return append(b, x...), nil
	case []byte:
		b = strconv.AppendInt(b, int64(len(x)), 10)
		b = append(b, ':')
		return append(b, x...), nil
	case int:
		return appendBencodeInt(b, int64(x)), nil
	case int64:
		return appendBencodeInt(b, x), nil
	case []string:
		b = append(b, 'l')
		for _, s := range x {
			b, _ = AppendBencode(b, s)
		}
		return append(b, 'e'), nil
	case []any:
		b = append(b, 'l')
		for _, e := range x {
			var err error
			if b, err = AppendBencode(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, 'e'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, 'd')
		for _, k := range keys {
			b, _ = AppendBencode(b, k)
			var err error
			if b, err = AppendBencode(b, x[k]); err != nil {
				return nil, err
			}
		}
		return append(b, 'e'), nil
	default:
		return nil, fmt.Errorf("%w: cannot encode %T", ErrBencode, v)
	}
}

func appendBencodeInt(b []byte, i int64) []byte {
	b = append(b, 'i')
	b = strconv.AppendInt(b, i, 10)
	return append(b, 'e')
}

// DecodeBencode decodes exactly one value that fills all of b.
func DecodeBencode(b []byte) (any, error) {
	v, n, err := decodeBencode(b, 0)
	if err != nil {
		return nil, err
	}
	if n != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBencode, len(b)-n)
	}
	return v, nil
}

// decodeBencode decodes one value at the start of b and returns it and its length.
func decodeBencode(b []byte, depth int) (any, int, error) {
	if len(b) == 0 {
		return nil, 0, fmt.Errorf("%w: unexpected end", ErrBencode)
	}
	if depth > maxBencodeDepth {
		return nil, 0, fmt.Errorf("%w: nested deeper than %d", ErrBencode, maxBencodeDepth)
	}
	switch c := b[0]; {
	case c == 'i':
		end := bytes.IndexByte(b, 'e')
		if end < 0 {
			return nil, 0, fmt.Errorf("%w: unterminated integer", ErrBencode)
		}
		digits := b[1:end]
		// BEP 3: no leading zeros, no "-0".
		if len(digits) == 0 || (digits[0] == '0' && len(digits) > 1) ||
			(digits[0] == '-' && (len(digits) == 1 || digits[1] == '0')) {
			return nil, 0, fmt.Errorf("%w: bad integer", ErrBencode)
		}
		i, err := strconv.ParseInt(string(digits), 10, 64)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: bad integer", ErrBencode)
		}
		return i, end + 1, nil
	case c >= '0' && c <= '9':
		s, n, err := decodeBencodeString(b)
		return s, n, err
	case c == 'l':
		var list []any
		n := 1
		for {
			if n >= len(b) {
				return nil, 0, fmt.Errorf("%w: unterminated list", ErrBencode)
			}
			if b[n] == 'e' {
				if list == nil {
					list = []any{}
				}
				return list, n + 1, nil
			}
			v, m, err := decodeBencode(b[n:], depth+1)
			if err != nil {
				return nil, 0, err
			}
			list = append(list, v)
			n += m
		}
	case c == 'd':
		dict := map[string]any{}
		n := 1
		for {
			if n >= len(b) {
				return nil, 0, fmt.Errorf("%w: unterminated dictionary", ErrBencode)
			}
			if b[n] == 'e' {
				return dict, n + 1, nil
			}
			if b[n] < '0' || b[n] > '9' {
				return nil, 0, fmt.Errorf("%w: dictionary key is not a string", ErrBencode)
			}
			k, m, err := decodeBencodeString(b[n:])
			if err != nil {
				return nil, 0, err
			}
			n += m
			v, m, err := decodeBencode(b[n:], depth+1)
			if err != nil {
				return nil, 0, err
			}
			n += m
			if _, dup := dict[k]; dup {
				return nil, 0, fmt.Errorf("%w: duplicate key", ErrBencode)
			}
			dict[k] = v
		}
	default:
		return nil, 0, fmt.Errorf("%w: unexpected byte 0x%02x", ErrBencode, c)
	}
}

func decodeBencodeString(b []byte) (string, int, error) {
	colon := bytes.IndexByte(b, ':')
	if colon < 1 || colon > 10 || (b[0] == '0' && colon > 1) {
		return "", 0, fmt.Errorf("%w: bad string length", ErrBencode)
	}
	l, err := strconv.Atoi(string(b[:colon]))
	if err != nil || l < 0 {
		return "", 0, fmt.Errorf("%w: bad string length", ErrBencode)
	}
	if l > len(b)-colon-1 {
		return "", 0, fmt.Errorf("%w: string longer than input", ErrBencode)
	}
	return string(b[colon+1 : colon+1+l]), colon + 1 + l, nil
}
