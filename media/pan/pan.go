package pan

import "strings"

// Marker replaces each card-like number.
const Marker = "[digits removed]"

// Card number lengths (ISO/IEC 7812-1).
const (
	minDigits = 12
	maxDigits = 19
)

// Scrub returns s with every card-like number replaced by Marker. It returns s itself,
// without allocating, when there is none.
func Scrub(s string) string {
	i, j := next(s, 0)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for i >= 0 {
		b.WriteString(s[last:i])
		b.WriteString(Marker)
		last = j
		i, j = next(s, j)
	}
	b.WriteString(s[last:])
	return b.String()
}

// Contains reports whether s holds a card-like number.
func Contains(s string) bool {
	i, _ := next(s, 0)
	return i >= 0
}

// next returns the byte span of the first card-like number in s at or after from, or -1.
func next(s string, from int) (int, int) {
	for i := from; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		end := sequenceEnd(s, i)
		if lo, hi, ok := find(s, i, end); ok {
			return lo, hi
		}
		i = end
	}
	return -1, -1
}

// sequenceEnd returns the end of the sequence starting at i: digit runs joined by single
// separators.
func sequenceEnd(s string, i int) int {
	for {
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i+1 < len(s) && isSep(s[i]) && isDigit(s[i+1]) {
			i++
			continue
		}
		return i
	}
}

// find looks for card-like numbers in the sequence s[start:end]: a single run of more than
// maxDigits, or consecutive whole runs holding minDigits..maxDigits digits that pass Luhn.
// It returns the first span of overlapping candidates, all of them: scrubbing only one
// could leave most of a card number in place ("12 4111 1111 1111 1111" may hold two).
func find(s string, start, end int) (lo, hi int, ok bool) {
	lo, hi = -1, -1
	for a := start; a < end; a = runEnd(s, a) + 1 {
		if lo >= 0 && a >= hi {
			break // candidates from here on cannot overlap the span found
		}
		digits := 0
		for b := a; b < end; {
			e := runEnd(s, b)
			n := e - b
			if b == a && n > maxDigits {
				if free(s, a, e) {
					lo, hi = span(lo, hi, a, e)
				}
				break
			}
			digits += n
			if digits > maxDigits {
				break
			}
			if digits >= minDigits && free(s, a, e) && luhn(s[a:e]) {
				lo, hi = span(lo, hi, a, e)
			}
			b = e + 1
		}
	}
	return lo, hi, lo >= 0
}

// span adds [i, j) to the span [lo, hi) (lo < 0: none yet).
func span(lo, hi, i, j int) (int, int) {
	if lo < 0 {
		return i, j
	}
	return min(lo, i), max(hi, j)
}

func runEnd(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// free reports whether s[i:j] touches no ASCII letter.
func free(s string, i, j int) bool {
	return (i == 0 || !isLetter(s[i-1])) && (j == len(s) || !isLetter(s[j]))
}

// luhn reports whether the digits of d (separators skipped) pass the Luhn check
// (ISO/IEC 7812-1 Annex B).
func luhn(d string) bool {
	sum, k := 0, 0
	for i := len(d) - 1; i >= 0; i-- {
		if !isDigit(d[i]) {
			continue
		}
		v := int(d[i] - '0')
		if k%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		k++
	}
	return sum%10 == 0
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isSep(c byte) bool    { return c == ' ' || c == '-' }
