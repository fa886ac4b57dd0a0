package inspect

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Printable returns s as it may be shown to a person on a terminal or a
// page: every character a terminal or a browser would act on instead of
// showing (C0 and C1 controls such as ESC, CR, BEL and CSI, DEL, format
// characters such as bidirectional overrides and zero-width joiners, every
// space but U+0020) is written as a Go escape (\x1b, \u202e, \U000e0001),
// and every byte that is not UTF-8 as \xff. Printable text, backslashes
// included, is left as it is, so an ordinary reason reads unchanged.
//
// Everything the on-call's commands and the console show that came from
// Redis or the chain (entity ids, reasons, signature ids, journal fields,
// error text) goes through it: anyone who can post an application or write
// to Redis chooses those bytes, and a raw escape sequence could retitle the
// engineer's terminal, clear it or paint rows that are not there.
func Printable(s string) string {
	if isPrintable(s, false) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteString(s[i : i+size])
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
		i += size
	}
	return b.String()
}

// PrintableJSON is Printable for encoded JSON (the commands' -json output):
// the same characters are written as JSON escapes (\u001b, surrogate pairs
// above U+FFFF), so the document still decodes to exactly the same values.
// encoding/json escapes C0 controls itself, but writes DEL, C1 controls and
// bidirectional overrides raw. Newlines are kept: in encoded JSON they only
// lay the document out (inside strings they are escaped already).
func PrintableJSON(b []byte) []byte {
	if isPrintable(string(b), true) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == '\n' || (unicode.IsPrint(r) && !(r == utf8.RuneError && size == 1)):
			out = append(out, b[i:i+size]...)
		case r == utf8.RuneError && size == 1:
			out = append(out, `\ufffd`...)
		case r < 0x10000:
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			hi, lo := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, hi, lo)
		}
		i += size
	}
	return out
}

// isPrintable is the fast path: most text needs no escape. newline says
// whether '\n' may stay.
func isPrintable(s string, newline bool) bool {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], string(utf8.RuneError)):
			return false
		case r == '\n' && newline:
		case !unicode.IsPrint(r):
			return false
		}
	}
	return true
}
