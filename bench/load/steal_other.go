//go:build !linux

package main

// machineTicks is not measured on this platform.
func machineTicks() cpuTicks { return cpuTicks{} }
