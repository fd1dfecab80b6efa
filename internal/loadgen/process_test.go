package loadgen

import (
	"slices"
	"testing"
)

func TestReadableLog(t *testing.T) {
	for _, tc := range []struct {
		extra []string
		env   string
		want  []string
	}{
		{nil, "", []string{"--log-format=text", "--log-level=info"}},
		{[]string{"--log-level=warn"}, "", []string{"--log-format=text", "--log-level=info"}},
		{[]string{"--log-level", "error", "--log-format=json"}, "", []string{"--log-format=text", "--log-level=info"}},
		{nil, "warn", []string{"--log-format=text", "--log-level=info"}},
		{[]string{"--log-level=debug"}, "", []string{"--log-format=text"}},
		{nil, "DEBUG", []string{"--log-format=text"}},
		{[]string{"--log-level=debug", "--log-level=warn"}, "", []string{"--log-format=text", "--log-level=info"}}, // the last one counts
		{[]string{"--log-level"}, "", []string{"--log-format=text", "--log-level=info"}},                           // no value
	} {
		if got := readableLog(tc.extra, tc.env); !slices.Equal(got, tc.want) {
			t.Errorf("readableLog(%q, %q) = %q, want %q", tc.extra, tc.env, got, tc.want)
		}
	}
}
