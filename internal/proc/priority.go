package proc

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Priority is the CPU priority a process starts with, it and every thread
// it makes (Spec.Priority). The zero value is the caller's. It is a
// flag.Value: "normal", "idle", "nice:N" or N (ParsePriority).
type Priority struct {
	// Nice is added to the caller's niceness (as nice(1) does; capped at
	// 19): a lower weight under Linux's fair scheduler, so a niced thread
	// gets about 1.25^-Nice of a core a normal one contends for. Each
	// thread weighs on its own, so a process of many runnable threads
	// still takes much.
	Nice int
	// Idle runs the process under Linux's SCHED_IDLE policy: it gets the
	// cores only when no normal task wants them (weight 3 against a
	// normal task's 1024), and a waking normal task preempts it at once.
	// An unprivileged process may lower itself to it. Nice then counts
	// for nothing.
	Idle bool
}

// PriorityNormal returns the caller's priority (the zero Priority).
func PriorityNormal() Priority { return Priority{} }

// PriorityIdle returns Linux's SCHED_IDLE policy (Priority.Idle).
func PriorityIdle() Priority { return Priority{Idle: true} }

// ParsePriority reads "normal" (or "nice:0", "0"), "idle" (SCHED_IDLE), or
// "nice:N" (or N) with N from 0 to 19.
func ParsePriority(s string) (Priority, error) {
	switch s {
	case "normal":
		return PriorityNormal(), nil
	case "idle":
		return PriorityIdle(), nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(s, "nice:"))
	if err != nil || n < 0 || n > 19 {
		return Priority{}, fmt.Errorf("priority %q: choose idle, normal or nice:N with N from 0 to 19", s)
	}
	return Priority{Nice: n}, nil
}

// String is the form ParsePriority reads: "idle", "nice:N" or "normal".
func (p Priority) String() string {
	switch {
	case p.Idle:
		return "idle"
	case p.Nice != 0:
		return fmt.Sprintf("nice:%d", p.Nice)
	default:
		return "normal"
	}
}

// Set parses s into p (flag.Value).
func (p *Priority) Set(s string) error {
	v, err := ParsePriority(s)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// Valid reports whether p can be applied: Nice from 0 to 19.
func (p Priority) Valid() error {
	if p.Nice < 0 || p.Nice > 19 {
		return fmt.Errorf("niceness %d out of range: choose 0 (off) to 19", p.Nice)
	}
	return nil
}

// applyToThread lowers the calling OS thread (locked by the caller) to p.
func (p Priority) applyToThread() error {
	if p.Nice != 0 && !p.Idle {
		raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0) // the kernel's 20 - niceness
		if err == nil {
			err = syscall.Setpriority(syscall.PRIO_PROCESS, 0, min(20-raw+p.Nice, 19))
		}
		if err != nil {
			return fmt.Errorf("niceness %+d: %w", p.Nice, err)
		}
	}
	if p.Idle {
		// Pid 0 is the calling thread; SCHED_IDLE takes priority 0.
		if err := unix.SchedSetAttr(0, &unix.SchedAttr{Policy: unix.SCHED_IDLE}, 0); err != nil {
			return fmt.Errorf("SCHED_IDLE: %w", err)
		}
	}
	return nil
}
