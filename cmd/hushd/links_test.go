package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// mdLink is a Markdown link's target: [text](target) or [text](target#anchor).
var mdLink = regexp.MustCompile(`\]\(([^)#\s]*)(#[^)]*)?\)`)

// TestDocLinksStayInRepository: every relative link in the repository's Markdown names a
// file or directory that exists inside the repository. A link out of it (a reader's
// checkout has nothing beside it) or to a file since moved fails here.
func TestDocLinksStayInRepository(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".md") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			checked++
			rel, _ := filepath.Rel(root, path)
			abs := filepath.Join(filepath.Dir(path), target)
			if filepath.IsAbs(target) {
				abs = target
			}
			if in, _ := filepath.Rel(root, abs); in == ".." || strings.HasPrefix(in, "../") {
				t.Errorf("%s links to %s, outside the repository", rel, target)
				continue
			}
			if _, err := os.Stat(abs); err != nil {
				t.Errorf("%s links to %s, which does not exist", rel, target)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no relative links found: the walk read no Markdown")
	}
}

// archPath is a token of docs/ARCHITECTURE.md that names a file or directory: a path from
// the repository's root, or a bare file name.
var archPath = regexp.MustCompile(`[A-Za-z0-9_][A-Za-z0-9_./-]*`)

// TestArchitecturePathsExist: every file and directory docs/ARCHITECTURE.md names exists.
// A path from the root (cmd/, internal/, media/, proto/, docs/) is checked as it is; a
// bare file name (state.go) in the directory of the last path named before it.
func TestArchitecturePathsExist(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "docs", "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	dir, checked := "", 0
	for _, tok := range archPath.FindAllString(string(b), -1) {
		tok = strings.TrimRight(tok, ".")
		rooted := false
		for _, r := range []string{"cmd/", "internal/", "media/", "proto/", "docs/"} {
			rooted = rooted || strings.HasPrefix(tok, r)
		}
		file := strings.HasSuffix(tok, ".go") || strings.HasSuffix(tok, ".proto") || strings.HasSuffix(tok, ".md")
		var path string
		switch {
		case rooted:
			path = tok
		case file && !strings.Contains(tok, "/") && dir != "":
			path = filepath.Join(dir, tok)
		default:
			continue
		}
		checked++
		fi, err := os.Stat(filepath.Join(root, path))
		if err != nil {
			t.Errorf("docs/ARCHITECTURE.md names %s (%s), which does not exist", tok, path)
			continue
		}
		if rooted {
			if dir = path; !fi.IsDir() {
				dir = filepath.Dir(path)
			}
		}
	}
	if checked < 40 {
		t.Fatalf("only %d paths checked: the document or the test lost its paths", checked)
	}
}
