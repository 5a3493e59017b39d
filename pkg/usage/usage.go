// Package usage reports the process's own resource use for the debug log,
// so a slow or heavy run on a real agent can be measured without tools.
package usage

// Usage is what the process has used so far.
type Usage struct {
	PeakRSS  int64 // bytes; 0 when the platform does not say
	UserCPU  float64
	SysCPU   float64
	Measured bool
}
