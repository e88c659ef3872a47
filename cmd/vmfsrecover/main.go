// Command vmfsrecover reads VMware datastores (VMFS volumes, VMDK disks and
// ESXi host configuration) strictly read-only and recovers what it finds.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := newRootCmd()
	err := cmd.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, errorLine(err))
	}
	os.Exit(exitCode(err))
}

// errorLine is what main prints for err: an interruption is said as such,
// not as the "context canceled" that stopped the work.
func errorLine(err error) string {
	if errors.Is(err, context.Canceled) {
		return "vmfsrecover: interrupted; what was done so far is kept"
	}
	return "vmfsrecover: " + err.Error()
}

// exitCode maps an error to the documented exit status (see exitCodesHelp).
func exitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	default:
		return exitFailure
	}
}
