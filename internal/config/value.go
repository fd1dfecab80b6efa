package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// key is one configuration key: a row of the key table. Its flag and env
// names are derived from path, so they cannot drift.
type key struct {
	path  string                       // dotted YAML path, "media.port_min"
	help  string                       // one line, for usage and the README
	kind  string                       // value syntax for usage: "int", "duration", ...
	field func(*Config) any            // pointer to the field, for the reflection test
	get   func(*Config) string         // current value, formatted as it is parsed
	set   func(*Config, string) error  // parse and store; the error is the reason only
	check func(*Config) (string, bool) // per-key validation: reason, ok
}

// flagName is the key's flag without dashes: media.port_min -> media-port-min.
func (k *key) flagName() string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(k.path)
}

// envName is the key's environment variable: media.port_min -> HUSH_MEDIA_PORT_MIN.
func (k *key) envName() string {
	return "HUSH_" + strings.ToUpper(strings.ReplaceAll(k.path, ".", "_"))
}

// value is the set of Go types a key may have.
type value interface {
	string | int | bool | time.Duration
}

// def builds a table row for a field of type T. check validates the value
// and returns a reason when it is bad; nil means any parseable value.
func def[T value](path, help string, field func(*Config) *T, check func(T) (string, bool)) key {
	return key{
		path:  path,
		help:  help,
		kind:  kindOf[T](),
		field: func(c *Config) any { return field(c) },
		get:   func(c *Config) string { return format(*field(c)) },
		set: func(c *Config, s string) error {
			v, err := parse[T](s)
			if err != nil {
				return err
			}
			*field(c) = v
			return nil
		},
		check: func(c *Config) (string, bool) {
			if check == nil {
				return "", true
			}
			return check(*field(c))
		},
	}
}

func kindOf[T value]() string {
	var v T
	switch any(v).(type) {
	case int:
		return "int"
	case bool:
		return "bool"
	case time.Duration:
		return "duration"
	}
	return "string"
}

// parse reads s as a T with the same syntax in YAML, env and flags.
func parse[T value](s string) (T, error) {
	var v T
	switch p := any(&v).(type) {
	case *string:
		*p = s
	case *int:
		n, err := strconv.ParseInt(s, 10, 0)
		if err != nil {
			return v, fmt.Errorf("not an integer: %q", s)
		}
		*p = int(n)
	case *bool:
		switch strings.ToLower(s) {
		case "true":
			*p = true
		case "false":
			*p = false
		default:
			return v, fmt.Errorf("not a boolean (true or false): %q", s)
		}
	case *time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return v, fmt.Errorf("not a duration (like 100ms, 60s, 1m30s): %q", s)
		}
		*p = d
	}
	return v, nil
}

// format writes v so that parse reads it back.
func format[T value](v T) string {
	switch x := any(v).(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case time.Duration:
		return formatDuration(x)
	}
	return fmt.Sprint(v)
}

// formatDuration drops zero trailing units: "1m" rather than "1m0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
