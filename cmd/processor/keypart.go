package main

// InFlight and the other figures of the key's current relay; zero values
// while none has run.
func (k *keyPart) InFlight() int {
	if r := k.relay.Load(); r != nil {
		return r.InFlight()
	}
	return 0
}

func (k *keyPart) NodeWindow() (held, window uint64) {
	if r := k.relay.Load(); r != nil {
		return r.NodeWindow()
	}
	return 0, 0
}

func (k *keyPart) HeldByUnknown() (uint64, bool) {
	if r := k.relay.Load(); r != nil {
		return r.HeldByUnknown()
	}
	return 0, false
}

func (k *keyPart) WaitingAtFeeCap() bool {
	if r := k.relay.Load(); r != nil {
		return r.WaitingAtFeeCap()
	}
	return false
}
