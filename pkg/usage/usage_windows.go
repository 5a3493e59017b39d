//go:build windows

package usage

import (
	"syscall"
	"unsafe"
)

// processMemoryCounters is PSAPI's PROCESS_MEMORY_COUNTERS.
type processMemoryCounters struct {
	cb                         uint32
	pageFaultCount             uint32
	peakWorkingSetSize         uintptr
	workingSetSize             uintptr
	quotaPeakPagedPoolUsage    uintptr
	quotaPagedPoolUsage        uintptr
	quotaPeakNonPagedPoolUsage uintptr
	quotaNonPagedPoolUsage     uintptr
	pagefileUsage              uintptr
	peakPagefileUsage          uintptr
}

// Self returns the process's usage: CPU from GetProcessTimes, the peak
// working set from GetProcessMemoryInfo.
func Self() Usage {
	h, err := syscall.GetCurrentProcess()
	if err != nil {
		return Usage{}
	}
	var created, exited, kernel, user syscall.Filetime
	if err := syscall.GetProcessTimes(h, &created, &exited, &kernel, &user); err != nil {
		return Usage{}
	}
	u := Usage{UserCPU: seconds(user), SysCPU: seconds(kernel), Measured: true}
	proc := syscall.NewLazyDLL("psapi.dll").NewProc("GetProcessMemoryInfo")
	if proc.Find() != nil {
		return u // the CPU figures alone
	}
	var c processMemoryCounters
	c.cb = uint32(unsafe.Sizeof(c))
	if ok, _, _ := proc.Call(uintptr(h), uintptr(unsafe.Pointer(&c)), uintptr(c.cb)); ok != 0 {
		u.PeakRSS = int64(c.peakWorkingSetSize)
	}
	return u
}

// seconds converts a FILETIME duration (100 ns units) to seconds.
func seconds(f syscall.Filetime) float64 {
	return float64(uint64(f.HighDateTime)<<32|uint64(f.LowDateTime)) / 1e7
}
