package main

import (
	"os"
	"strings"
	"testing"

	"github.com/hushmedia/hush/internal/config"
)

// TestREADMEConfigReference keeps the README's configuration table in step with the key
// table: a new or changed key fails here until the README is regenerated from
// config.Reference().
func TestREADMEConfigReference(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), strings.TrimRight(config.Reference(), "\n")) {
		t.Fatal("README.md's configuration table differs from config.Reference(); run make docs")
	}
}
