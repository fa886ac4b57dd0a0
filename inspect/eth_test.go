package inspect

import "testing"

func TestReadableEth(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"999.999873452000000001", "999.9999 ETH"},
		{"1", "1 ETH"},
		{"0.50000", "0.5 ETH"},
		{"0.00004", "< 0.0001 ETH"},
		{"0.00005", "0.0001 ETH"},
		{"0", "0 ETH"},
		{"", "unknown"},
		{"lots", "unknown"},
	} {
		if got := ReadableEth(tt.in); got != tt.want {
			t.Errorf("ReadableEth(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
