package config

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics, and either returns a config that
// validates or an error wrapping one of the package's sentinels.
func FuzzParse(f *testing.F) {
	f.Add(DefaultYAML())
	for _, s := range []string{
		"",
		"media: {port_min: 70000}",
		"media:\n  port_mni: 1\n",
		"log: {level: info}\nlog: {level: debug}\n",
		"grpc: [",
		"a: &a [*a, *a]\nb: *a\n",
		"log: &l {level: debug}\nhttp: *l\n",
		"media: {address: \"::\", advertise_address: \"2001:db8::1\", idle_timeout: 1m30s}",
		"? [x]\n: 1\n",
		"--- \n...\n---\n",
		"media: !!binary aGVsbG8=",
		"session: {drain_timeout: -9223372036854775808ns}",
		"\t",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrInvalid) &&
				!errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrDuplicateKey) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse returned an invalid config: %v", err)
		}
	})
}
