package usage

import (
	"runtime"
	"testing"
)

func TestSelf(t *testing.T) {
	u := Self()
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" && runtime.GOOS != "windows" {
		if u.Measured {
			t.Fatalf("Measured on %s", runtime.GOOS)
		}
		return
	}
	// A running Go test binary holds more than 1 MiB and less than 1 GiB.
	if !u.Measured || u.PeakRSS < 1<<20 || u.PeakRSS > 1<<30 {
		t.Fatalf("Self() = %+v", u)
	}
}
