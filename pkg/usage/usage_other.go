//go:build !linux && !darwin && !windows

package usage

// Self returns nothing on platforms without getrusage.
func Self() Usage { return Usage{} }
