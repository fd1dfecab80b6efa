package ng

import (
	"os"
	"strings"
	"testing"
)

// TestDocsNameEveryRule keeps docs/NG.md, the reader's mapping of rtpengine's protocol,
// in step with the tables the server works from: every command, key and flag is named.
func TestDocsNameEveryRule(t *testing.T) {
	b, err := os.ReadFile("../../docs/NG.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := norm(string(b))
	check := func(kind, name string) {
		if !strings.Contains(doc, "`"+name+"`") && !strings.Contains(doc, "`"+name+"*`") {
			t.Errorf("docs/NG.md does not name %s `%s`", kind, name)
		}
	}
	for c := range commandRules {
		check("command", c)
	}
	for k := range keyRules {
		check("key", k)
	}
	for f := range flagRules {
		check("flag", f)
	}
	for _, p := range flagPrefixes {
		check("flag prefix", p.prefix)
	}
	for _, r := range Reasons() {
		check("error reason", norm(r))
	}
}
