package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxFileSize bounds the configuration file; real ones are a few KiB.
const maxFileSize = 1 << 20

// decodeYAML applies the keys set in data to c. It walks the YAML node tree
// against the key table rather than decoding into the struct, so an unknown
// key is reported with its full dotted path and line (yaml's KnownFields
// names only the Go type) and every value is parsed by the same rules as env
// and flags. source names the file in errors ("" for none). All problems are
// reported, joined.
func decodeYAML(c *Config, data []byte, source string) error {
	return decodeYAMLOrigin(c, data, source, nil)
}

// decodeYAMLOrigin is decodeYAML that also records in origin, if not nil,
// the file and line each key was set at.
func decodeYAMLOrigin(c *Config, data []byte, source string, origin map[string]string) error {
	if len(data) > maxFileSize {
		return fmt.Errorf("config: %s%w: larger than %d bytes", prefix(source), ErrSyntax, maxFileSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty file: all defaults
		}
		return fmt.Errorf("config: %s%w: %v", prefix(source), ErrSyntax, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %s%w: want one YAML document, found more", prefix(source), ErrSyntax)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil
		}
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil // a file of only comments
	}
	w := walker{cfg: c, source: source, origin: origin}
	w.mapping(root, "", keyTree)
	return errors.Join(w.errs...)
}

func prefix(source string) string {
	if source == "" {
		return ""
	}
	return source + ": "
}

// treeNode is the key table as a tree of path elements.
type treeNode struct {
	children map[string]*treeNode // a section
	key      *key                 // a leaf
}

var keyTree = func() *treeNode {
	root := &treeNode{children: map[string]*treeNode{}}
	for i := range keys {
		n := root
		for part := range strings.SplitSeq(keys[i].path, ".") {
			next := n.children[part]
			if next == nil {
				next = &treeNode{children: map[string]*treeNode{}}
				n.children[part] = next
			}
			n = next
		}
		n.key = &keys[i]
	}
	return root
}()

type walker struct {
	cfg    *Config
	source string
	origin map[string]string // if not nil, records where each key was set
	errs   []error
}

func (w *walker) where(n *yaml.Node) string {
	if w.source == "" {
		return fmt.Sprintf("line %d", n.Line)
	}
	return fmt.Sprintf("%s:%d", w.source, n.Line)
}

func (w *walker) fail(keyPath string, n *yaml.Node, sentinel error, format string, args ...any) {
	w.errs = append(w.errs, &KeyError{
		Key: keyPath, Source: w.where(n), Reason: fmt.Sprintf(format, args...), Err: sentinel,
	})
}

// mapping applies a YAML mapping node to the section t at path at. The
// walk's depth is bounded by the key tree's, whatever the input.
func (w *walker) mapping(n *yaml.Node, at string, t *treeNode) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		name := at
		if name == "" {
			name = "(top level)"
		}
		w.fail(name, n, ErrInvalid, "must be a mapping of keys, got %s", describe(n))
		return
	}
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := resolve(n.Content[i]), n.Content[i+1]
		if kn.Kind != yaml.ScalarNode {
			w.fail(join(at, "?"), kn, ErrSyntax, "a key must be a plain name, got %s", describe(kn))
			continue
		}
		name := kn.Value
		full := join(at, clip(name))
		if seen[name] {
			w.fail(full, kn, ErrDuplicateKey, "appears more than once")
			continue
		}
		seen[name] = true
		child := t.children[name]
		switch {
		case child == nil:
			w.fail(full, kn, ErrUnknownKey, "unknown key%s", suggest(full))
		case child.key != nil:
			w.leaf(vn, child.key)
		default:
			w.mapping(vn, full, child)
		}
	}
}

func (w *walker) leaf(n *yaml.Node, k *key) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode {
		w.fail(k.path, n, ErrInvalid, "must be a single %s value, got %s", k.kind, describe(n))
		return
	}
	v := n.Value
	if n.Tag == "!!null" {
		v = "" // "key:" with no value; fine for strings, an error for the rest
	}
	if err := k.set(w.cfg, v); err != nil {
		w.fail(k.path, n, ErrInvalid, "%v", err)
		return
	}
	if w.origin != nil {
		w.origin[k.path] = w.where(n)
	}
}

func join(at, name string) string {
	if at == "" {
		return name
	}
	return at + "." + name
}

// resolve follows an alias to its anchor's node (one step: yaml.v3 does not
// produce alias chains).
func resolve(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "nothing"
	}
	return fmt.Sprintf("%q", clip(n.Value))
}

// clip shortens text from the file before it goes into an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// suggest names the closest known key when one is a likely typo.
func suggest(unknown string) string {
	best, bestDist := "", 3 // suggest only within 2 edits
	for i := range keys {
		if d := editDistance(unknown, keys[i].path); d < bestDist {
			best, bestDist = keys[i].path, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// editDistance is the Levenshtein distance, bounded in cost by the short
// inputs (a key path from the file, capped, against table paths).
func editDistance(a, b string) int {
	if len(a) > 128 {
		return len(a) // no suggestion for absurd keys; keeps the cost bounded
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
