package pan

import (
	"strconv"
	"strings"
	"testing"
)

func TestScrub(t *testing.T) {
	for in, want := range map[string]string{
		"":                                      "",
		"call-1@pbx":                            "call-1@pbx",
		"4111111111111111":                      Marker,
		"4111 1111 1111 1111":                   Marker,
		"4111-1111-1111-1111@pbx":               Marker + "@pbx",
		"pay 4111 1111 1111 1111 now":           "pay " + Marker + " now",
		"amex 3782 822463 10005":                "amex " + Marker, // 15 digits in 4-6-5
		"411111111117":                          Marker,           // 12 digits, Luhn
		"4111111111111112":                      "4111111111111112",
		"4111 1111 1111 1112":                   "4111 1111 1111 1112",
		"12345678901":                           "12345678901", // 11 digits: a phone number
		"+44 20 7946 0958":                      "+44 20 7946 0958",
		"123456789012345678901":                 Marker, // over 19 digits could hide one
		"ab4111111111111111cd":                  "ab4111111111111111cd",
		"x4111 1111 1111 1111y":                 "x4111 1111 1111 1111y",
		"12 4111 1111 1111 1111":                "12 " + Marker,
		"4111  1111  1111  1111":                "4111  1111  1111  1111", // groups must be joined by one separator
		"4111111111111111 and 5555555555554444": Marker + " and " + Marker,
		"2026-11-26 12:00:00":                   "2026-11-26 12:00:00",
		"pan=4111111111111111; 12":              "pan=" + Marker + "; 12",
		"12345678901237-9 4111111111111111":     Marker + "-9 " + Marker,
	} {
		if got := Scrub(in); got != want {
			t.Errorf("Scrub(%q) = %q, want %q", in, got, want)
		}
		if Contains(Scrub(in)) {
			t.Errorf("Scrub(%q) still holds a card-like number", in)
		}
	}
}

// Overlapping candidates are scrubbed together: a prefix group that makes its own
// Luhn-valid window with the start of a card number must not leave the rest in place.
func TestScrubOverlapping(t *testing.T) {
	for p := 10; p < 100; p++ {
		pre := strconv.Itoa(p)
		if !luhn(pre + "411111111111") {
			continue
		}
		in := pre + " 4111 1111 1111 1111"
		if got := Scrub(in); got != Marker {
			t.Fatalf("Scrub(%q) = %q, want all of it removed", in, got)
		}
		return
	}
	t.Fatal("no two-digit prefix makes a Luhn-valid window")
}

// A long chain of groups is searched to its end, not only its first groups.
func TestScrubLongSequence(t *testing.T) {
	in := strings.Repeat("7 ", 40) + "4111 1111 1111 1111"
	if got := Scrub(in); strings.Contains(got, "4111") || !strings.HasSuffix(got, Marker) {
		t.Fatalf("card at the end of a long sequence kept: %q", got)
	}
}

func TestScrubNoAllocWithoutCard(t *testing.T) {
	s := "call a84b4c76e66710@pbx agent-42 queue=payments 2026-11-26"
	if n := testing.AllocsPerRun(100, func() { _ = Scrub(s) }); n != 0 {
		t.Fatalf("Scrub allocates %v times on text without a card number", n)
	}
}

func FuzzScrub(f *testing.F) {
	for _, s := range []string{"4111 1111 1111 1111", "12 4111-1111-1111-1111 x", "a1b2", "0000000000000", "1-2-3-4-5-6-7-8-9-0-1-2-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Scrub(s)
		if Contains(out) {
			t.Fatalf("Scrub(%q) = %q still holds a card-like number", s, out)
		}
		if !Contains(s) && out != s {
			t.Fatalf("Scrub(%q) = %q changed text without a card-like number", s, out)
		}
	})
}

func BenchmarkScrub(b *testing.B) {
	b.ReportAllocs()
	s := "session created session_id=6f1c2e9d0b7a4c3e8f5a1b2c3d4e5f60 call_id=a84b4c76e66710@pbx customer_local=127.0.0.1:30000"
	for b.Loop() {
		_ = Scrub(s)
	}
}
