package config

import (
	"fmt"
	"strings"
)

// Reference renders every key as a markdown table (key, flag, env var,
// default, meaning) for the README. It is generated from the key table and
// the embedded defaults, so it is always complete.
func Reference() string {
	def := Default()
	var b strings.Builder
	b.WriteString("| Key | Flag | Env | Default | Meaning |\n")
	b.WriteString("|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| | `--config` | `%s` | | YAML configuration file to read |\n", ConfigEnv)
	for i := range keys {
		k := &keys[i]
		d := k.get(def)
		if d == "" {
			d = `""`
		}
		fmt.Fprintf(&b, "| `%s` | `--%s` | `%s` | `%s` | %s (%s) |\n",
			k.path, k.flagName(), k.envName(), d, mdEscape(k.help), k.kind)
	}
	return b.String()
}

// mdEscape keeps help text from breaking the table.
func mdEscape(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}
