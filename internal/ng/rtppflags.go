package ng

import (
	"fmt"
	"strings"
)

// maxRTPPFlags bounds the rtpp_flags string and its nesting.
const (
	maxRTPPFlags     = 8192
	maxRTPPFlagDepth = 4
)

// mergeRTPPFlags parses rtpp_flags (rtpengine's daemon-side flag parsing, which newer
// Kamailio modules send instead of parsing the flags themselves) and merges it into the
// request as the module would have: "key=value" and "key=[list]" become keys, bare
// words flags; "replace-X", "rtcp-mux-X" and "SDES-X" add X to their lists. Keys of the
// dictionary itself win over the string's.
func (r *request) mergeRTPPFlags(s string) error {
	if len(s) > maxRTPPFlags {
		return fmt.Errorf("%w: rtpp_flags longer than %d bytes", ErrField, maxRTPPFlags)
	}
	items, _, err := parseFlagList(s, 0)
	if err != nil {
		return err
	}
	for _, it := range items {
		k := norm(it.key)
		if it.value == nil { // a bare word
			switch {
			case strings.HasPrefix(k, "replace "):
				r.appendList("replace", k[len("replace "):])
			case strings.HasPrefix(k, "rtcp mux "):
				r.appendList("rtcp mux", k[len("rtcp mux "):])
			case strings.HasPrefix(k, "sdes "):
				r.appendList("sdes", k[len("sdes "):])
			default:
				if !r.flags[k] {
					r.flags[k] = true
					r.order = append(r.order, it.key)
				}
			}
			continue
		}
		if _, exists := r.keys[k]; !exists {
			r.keys[k] = it.value
		}
	}
	return nil
}

func (r *request) appendList(key, v string) {
	l, _ := r.keys[key].([]any)
	r.keys[key] = append(l, v)
}

// flagItem is a bare word (value nil) or key=value, the value a string or a list.
type flagItem struct {
	key   string
	value any
}

// parseFlagList reads items up to the end (depth 0) or the ']' that closes the list
// (depth > 0) and returns what follows.
func parseFlagList(s string, depth int) ([]flagItem, string, error) {
	if depth > maxRTPPFlagDepth {
		return nil, "", fmt.Errorf("%w: rtpp_flags nested deeper than %d", ErrField, maxRTPPFlagDepth)
	}
	var items []flagItem
	for {
		s = strings.TrimLeft(s, " \t")
		switch {
		case s == "" && depth > 0:
			return nil, "", fmt.Errorf("%w: rtpp_flags has an unclosed '['", ErrField)
		case s == "":
			return items, "", nil
		case s[0] == ']' && depth == 0:
			return nil, "", fmt.Errorf("%w: rtpp_flags has an unmatched ']'", ErrField)
		case s[0] == ']':
			return items, s[1:], nil
		case s[0] == '[' || s[0] == '=':
			return nil, "", fmt.Errorf("%w: rtpp_flags has a '%c' where a word belongs", ErrField, s[0])
		}
		end := strings.IndexAny(s, " \t=[]")
		if end < 0 {
			end = len(s)
		}
		word := s[:end]
		s = s[end:]
		if s == "" || s[0] != '=' {
			items = append(items, flagItem{key: word})
			continue
		}
		s = s[1:]
		if s != "" && s[0] == '[' {
			sub, rest, err := parseFlagList(s[1:], depth+1)
			if err != nil {
				return nil, "", err
			}
			items = append(items, flagItem{key: word, value: listValue(sub)})
			s = rest
			continue
		}
		vend := strings.IndexAny(s, " \t[]")
		if vend < 0 {
			vend = len(s)
		}
		items = append(items, flagItem{key: word, value: s[:vend]})
		s = s[vend:]
	}
}

// listValue turns a bracketed list into a bencode-like value: a list of strings when
// every item is a bare word, else a dictionary (codec=[transcode=[PCMA PCMU]]).
func listValue(items []flagItem) any {
	plain := true
	for _, it := range items {
		if it.value != nil {
			plain = false
		}
	}
	if plain {
		l := make([]any, 0, len(items))
		for _, it := range items {
			l = append(l, it.key)
		}
		return l
	}
	d := map[string]any{}
	for _, it := range items {
		if it.value == nil {
			d[it.key] = ""
		} else {
			d[it.key] = it.value
		}
	}
	return d
}
