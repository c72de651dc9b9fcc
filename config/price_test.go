package config

import (
	"math"
	"testing"
)

func TestParseUSD(t *testing.T) {
	good := map[string]int64{"0": 0, "2.50": 2_500_000_000, "0.000000001": 1, ".5": 500_000_000, "15": 15_000_000_000, "0.01875": 18_750_000}
	for in, want := range good {
		if got, err := ParseUSD(in); err != nil || got != want {
			t.Errorf("ParseUSD(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", ".", "-1", "1e3", "0.0000000001", "1,5", "12345678901", "NaN"} {
		if _, err := ParseUSD(in); err == nil {
			t.Errorf("ParseUSD(%q) succeeded", in)
		}
	}
}

func TestFormatDecimal(t *testing.T) {
	tests := []struct {
		n     int64
		scale int
		want  string
	}{
		{0, 9, "0"}, {1, 9, "0.000000001"}, {2_500_000_000, 9, "2.5"}, {-1_500_000_000, 9, "-1.5"},
		{2_500_000_000, 15, "0.0000025"}, {18_750_000, 15, "0.00000001875"}, {math.MaxInt64, 9, "9223372036.854775807"},
	}
	for _, tt := range tests {
		if got := FormatDecimal(tt.n, tt.scale); got != tt.want {
			t.Errorf("FormatDecimal(%d, %d) = %s, want %s", tt.n, tt.scale, got, tt.want)
		}
	}
}
