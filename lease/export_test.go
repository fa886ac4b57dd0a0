package lease

import "time"

// SetClock makes the lease read time from now (a fakeclock), so tests move
// time instead of sleeping.
func (l *Lease) SetClock(now func() time.Time) { l.now = now }
