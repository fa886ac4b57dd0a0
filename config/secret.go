package config

import (
	"fmt"
	"io"
	"log/slog"
)

// redacted is what every printing path of a Secret produces.
const redacted = "[redacted]"

// Secret holds a value that must never reach a log line, an error message or
// a JSON document: the wallet mnemonic, and URLs that may carry a password or
// an API key.
//
// It is a struct rather than a named string so that the only way to the value
// is an explicit call to Reveal; a string conversion does not compile. Every
// generic way of printing it (fmt verbs including %#v and %x, JSON, text
// encoding, slog, and zerolog's Interface/Any/Stringer/Fields, which fall back
// to String or MarshalJSON) yields "[redacted]".
//
// Secret deliberately does not implement zerolog.LogObjectMarshaler: zerolog
// would then render it as a JSON object instead of the plain "[redacted]"
// string it gets through MarshalJSON.
//
// The zero value is the empty secret.
type Secret struct {
	value string
}

// NewSecret wraps v. It exists for wiring and tests that build a Config
// without going through Load.
func NewSecret(v string) Secret { return Secret{value: v} }

// Reveal returns the secret value. Call it only where the value is consumed
// (deriving the key, dialling the server), never to print it.
func (s Secret) Reveal() string { return s.value }

// String implements fmt.Stringer.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer, so %#v of a Config does not leak.
func (s Secret) GoString() string { return redacted }

// Format implements fmt.Formatter. It takes precedence over String for every
// verb, so even %x, %q or %d print "[redacted]" rather than an encoding of
// the value.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalJSON implements json.Marshaler; zerolog's Interface and Fields use it.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (map keys, YAML, env dumps).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }
