//go:build linux || darwin

package usage

import (
	"runtime"
	"syscall"
)

// Self returns the process's usage.
func Self() Usage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return Usage{}
	}
	rss := int64(ru.Maxrss)
	if runtime.GOOS == "linux" {
		rss *= 1024 // Linux reports KiB, macOS bytes
	}
	return Usage{
		PeakRSS:  rss,
		UserCPU:  float64(ru.Utime.Sec) + float64(ru.Utime.Usec)/1e6,
		SysCPU:   float64(ru.Stime.Sec) + float64(ru.Stime.Usec)/1e6,
		Measured: true,
	}
}
