package record

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Recordings are filed by the UTC day they started, <root>/YYYY/MM/DD/<id>.wav and
// .json, so no directory grows without bound. Recordings from before that layout sit in
// <root> itself and stay readable there.

// DateDir is the directory, relative to the recordings root, of a recording that
// started at t: "YYYY/MM/DD" of t in UTC.
func DateDir(t time.Time) string {
	return filepath.FromSlash(t.UTC().Format("2006/01/02"))
}

// ValidDir accepts the relative directories a recording may live in: "" (the root,
// recordings from before the dated layout) or DateDir's form. Anything else could point
// outside the root.
func ValidDir(rel string) error {
	if rel == "" {
		return nil
	}
	s := filepath.ToSlash(rel)
	if len(s) != len("2006/01/02") || s[4] != '/' || s[7] != '/' {
		return fmt.Errorf("%w: directory %q", ErrBadID, rel)
	}
	for i, c := range []byte(s) {
		if i != 4 && i != 7 && (c < '0' || c > '9') {
			return fmt.Errorf("%w: directory %q", ErrBadID, rel)
		}
	}
	return nil
}

// Dirs lists the directories under root that may hold recordings, relative to root:
// "" first, then every YYYY/MM/DD directory in order. Other entries are ignored.
func Dirs(root string) ([]string, error) {
	out := []string{""}
	years, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", root, err)
	}
	for _, y := range years {
		if !y.IsDir() || !digits(y.Name(), 4) {
			continue
		}
		months, err := os.ReadDir(filepath.Join(root, y.Name()))
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", root, err)
		}
		for _, m := range months {
			if !m.IsDir() || !digits(m.Name(), 2) {
				continue
			}
			days, err := os.ReadDir(filepath.Join(root, y.Name(), m.Name()))
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", root, err)
			}
			for _, d := range days {
				if d.IsDir() && digits(d.Name(), 2) {
					out = append(out, filepath.Join(y.Name(), m.Name(), d.Name()))
				}
			}
		}
	}
	slices.Sort(out[1:])
	return out, nil
}

func digits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
