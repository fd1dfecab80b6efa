package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/auth"
)

// errVerify marks a failed audit verification (exit 1, already reported).
var errVerify = errors.New("audit chain broken")

// minTokenLen keeps guessable tokens out of the token file.
const minTokenLen = 16

// audit runs "audit verify FILE".
func (a *app) audit(args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		return usageErrorf("audit needs a verb: query, tail or verify")
	}
	if len(args) != 2 || args[1] == "" {
		return usageErrorf("audit verify takes 1 argument FILE, got %d", len(args)-1)
	}
	path := args[1]
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := audit.Verify(f)
	if err != nil {
		fmt.Fprintf(a.stdout, "%s: BROKEN at %v (%d good records before it)\n", path, err, n)
		return errVerify
	}
	fmt.Fprintf(a.stdout, "%s: OK, %d records\n", path, n)
	return nil
}

// tokenCmd runs "token hash" and "token new".
func (a *app) tokenCmd(args []string) error {
	if len(args) == 0 {
		return usageErrorf("token needs a verb: hash or new")
	}
	switch args[0] {
	case "new":
		if len(args) != 1 {
			return usageErrorf("token new takes no arguments")
		}
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		fmt.Fprintln(a.stdout, base64.RawURLEncoding.EncodeToString(b))
		return nil
	case "hash":
		return a.tokenHash(args[1:])
	}
	return usageErrorf("unknown token verb %q", args[0])
}

func (a *app) tokenHash(args []string) error {
	fs := flag.NewFlagSet("hushctl token hash", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var e auth.TokenEntry
	var role string
	fs.StringVar(&e.Subject, "subject", "", "who holds the token (logged and audited)")
	fs.StringVar(&role, "role", "", "platform, agent, qa, payment, admin, metrics (reads /metrics only) or audit (reads the audit trail only)")
	fs.StringVar(&e.AgentID, "agent-id", "", "for role agent: the agent whose sessions it may touch")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(a.stdout, "Usage: hushctl token hash --subject S --role R [--agent-id A] < TOKEN\n\n"+
				"Reads one token from stdin and prints its line for auth.token_file.\n\nFlags:\n")
			fs.SetOutput(a.stdout)
			fs.PrintDefaults()
			return flag.ErrHelp
		}
		return usageErrorf("token hash: %v", err)
	}
	if fs.NArg() != 0 {
		return usageErrorf("token hash reads the token on stdin, not as an argument")
	}
	e.Role = auth.Role(role)
	if a.stdin == nil {
		return usageErrorf("token hash reads the token on stdin")
	}
	line, err := bufio.NewReader(io.LimitReader(a.stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	token := strings.TrimSpace(line)
	if len(token) < minTokenLen {
		return usageErrorf("token hash: token on stdin must be at least %d characters (try hushctl token new)", minTokenLen)
	}
	e.SHA256 = auth.HashToken(token)
	out, err := json.Marshal(e)
	if err != nil {
		return err
	}
	// The token-file parser is the judge of the line, so what we print loads.
	if _, err := auth.ParseTokens(strings.NewReader(string(out))); err != nil {
		return usageErrorf("token hash: %v", strings.TrimPrefix(err.Error(), auth.ErrTokenFile.Error()+": line 1: "))
	}
	fmt.Fprintln(a.stdout, string(out))
	return nil
}
