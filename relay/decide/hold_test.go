package decide

import (
	"reflect"
	"testing"
)

func TestUnknownNonces(t *testing.T) {
	tests := []struct {
		name           string
		have           []uint64
		mined, pending uint64
		want           []uint64
	}{
		{"pool empty", nil, 5, 5, nil},
		{"all journaled", []uint64{5, 6}, 5, 7, nil},
		{"journal lost everything", nil, 5, 7, []uint64{5, 6}},
		{"journal lost the last one", []uint64{5}, 5, 7, []uint64{6}},
		{"journal lost one in the middle", []uint64{5, 7}, 5, 8, []uint64{6}},
		{"journaled above the pool is not unknown", []uint64{9}, 5, 5, nil},
	}
	for _, tc := range tests {
		have := map[uint64]bool{}
		for _, n := range tc.have {
			have[n] = true
		}
		if got := UnknownNonces(have, tc.mined, tc.pending); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestNextHold(t *testing.T) {
	holding := Hold{UpTo: 7, Unknown: 2, Since: 100}
	tests := []struct {
		name    string
		h       Hold
		unknown []uint64
		mined   uint64
		head    uint64
		want    Hold
		ev      HoldEvent
	}{
		{"clean start: no hold", Hold{}, nil, 5, 100, Hold{}, HoldUnchanged},
		{"unknown in the pool: hold", Hold{}, []uint64{5, 6}, 5, 100, Hold{UpTo: 7, Unknown: 2, Since: 100}, HoldStarted},
		{"still there", holding, []uint64{5, 6}, 5, 103, holding, HoldUnchanged},
		{"one mined, one left", holding, []uint64{6}, 6, 104, Hold{UpTo: 7, Unknown: 1, Since: 100}, HoldUnchanged},
		{"more appeared: held until all are mined", holding, []uint64{5, 6, 7}, 5, 104, Hold{UpTo: 8, Unknown: 3, Since: 100}, HoldUnchanged},
		{"all mined: go on", holding, nil, 7, 105, Hold{}, HoldMined},
		{"gone without being mined: not yet, one answer is not proof", holding, nil, 5, 105,
			Hold{UpTo: 7, Since: 100, GoneAt: 105}, HoldUnchanged},
		{"gone, same block again: still holding", Hold{UpTo: 7, Since: 100, GoneAt: 105}, nil, 5, 105,
			Hold{UpTo: 7, Since: 100, GoneAt: 105}, HoldUnchanged},
		{"gone in a later block: dropped, go on", Hold{UpTo: 7, Since: 100, GoneAt: 105}, nil, 5, 106, Hold{}, HoldDropped},
		{"back after looking gone: a lagging backend, hold on", Hold{UpTo: 7, Since: 100, GoneAt: 105}, []uint64{5, 6}, 5, 106,
			holding, HoldUnchanged},
		{"mined while looking gone", Hold{UpTo: 7, Since: 100, GoneAt: 105}, nil, 7, 106, Hold{}, HoldMined},
	}
	for _, tc := range tests {
		got, ev := NextHold(tc.h, tc.unknown, tc.mined, tc.head)
		if got != tc.want || ev != tc.ev {
			t.Errorf("%s: got %+v %v, want %+v %v", tc.name, got, ev, tc.want, tc.ev)
		}
		if got.Holding() != (tc.want.UpTo != 0) {
			t.Errorf("%s: Holding() = %v", tc.name, got.Holding())
		}
	}
}
