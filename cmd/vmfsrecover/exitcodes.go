package main

// Exit statuses. They are part of the interface: scripts depend on them, so
// never renumber one.
const (
	exitOK          = 0   // everything asked for was done
	exitFailure     = 1   // an error stopped the command
	exitUsage       = 2   // wrong flags or arguments
	exitPartial     = 3   // done, but some items failed or were damaged, or nothing was recovered (see the output)
	exitVerify      = 4   // verification found a mismatch
	exitLeft        = 5   // the wizard was left with q, saved to resume later
	exitInterrupted = 130 // interrupted by a signal; work done so far is kept
)

const exitCodesHelp = `Exit status:
  0    success
  1    an error stopped the command
  2    wrong flags or arguments (a required flag or PATH missing, a SOURCE
       that does not exist, --offset outside the file)
  3    finished, but some items failed or were damaged, or nothing was
       recovered (details in the output)
  4    verification found a mismatch
  5    the wizard was left with q; it is saved (wizard --resume continues it)
  130  interrupted (Ctrl-C); what was done so far is kept`

// exitError carries an exit status other than exitFailure up to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withExitCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}
