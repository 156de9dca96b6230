package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// machineTicks reads the machine's CPU time from /proc/stat, in clock
// ticks summed over every CPU: the time a hypervisor gave to other guests
// (steal), and all of it. A shared virtual machine whose host is busy
// loses part of its CPU to steal, and every pass then runs slower than the
// machine's figures suggest; the report shows each pass's share.
func machineTicks() cpuTicks {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return cpuTicks{}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return cpuTicks{}
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 9 || fields[0] != "cpu" {
		return cpuTicks{}
	}
	// user nice system idle iowait irq softirq steal [guest guest_nice]:
	// guest time is counted in user time already.
	var t cpuTicks
	for i, s := range fields[1:9] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return cpuTicks{}
		}
		t.total += v
		if i == 7 {
			t.steal = v
		}
	}
	return t
}
