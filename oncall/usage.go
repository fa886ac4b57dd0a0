package oncall

import (
	"errors"
	"fmt"
)

// ErrUsage marks a command line that cannot run; errors.Is(err, ErrUsage)
// holds for every refusal Usagef makes, whose text says why.
var ErrUsage = errors.New("usage")

// usageError is a command line that cannot run, and why.
type usageError struct{ why string }

func (e usageError) Error() string        { return e.why }
func (e usageError) Is(target error) bool { return target == ErrUsage }

// Usagef is a refusal of a command line, saying why.
func Usagef(format string, args ...any) error {
	return usageError{why: fmt.Sprintf(format, args...)}
}

// usageErrorf is Usagef, under the name the commands' parsers use.
func usageErrorf(format string, args ...any) error { return Usagef(format, args...) }
