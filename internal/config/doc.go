// Package config loads hushd's configuration: an embedded, commented default
// (default.yaml), overridden by a YAML file (--config FILE or HUSH_CONFIG),
// then by HUSH_* environment variables, then by command-line flags. The
// result is validated as a whole before the daemon starts; every error names
// the dotted key it is about, e.g.
//
//	config: media.port_min: must be in 1024..65535, got 70000
//
// One table of keys (keys.go) drives YAML parsing, environment variables,
// flags, validation, usage text and the README reference, so they cannot
// drift apart. A key's names are derived from its dotted YAML path:
//
//	YAML  media.port_min
//	flag  --media-port-min        (dots and underscores become dashes)
//	env   HUSH_MEDIA_PORT_MIN     (dots become underscores, upper case)
//
// An unknown key is refused with the closest known name as a hint: in the
// file, and, when Load is given the whole environment (WithEnviron), a HUSH_
// variable that names no key and is not in OtherEnv.
//
// Every value is written the same way in all three places: integers in
// decimal, booleans as true or false, durations in Go syntax ("60s",
// "1m30s"), addresses as text.
//
// Adding a key is one struct field (with its yaml tag) plus one row in the
// key table plus its default in default.yaml; tests fail until all three
// agree. A new section is a new struct type and a field in Config.
package config
