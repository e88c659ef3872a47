// Package textout holds the small helpers every text renderer of the tool
// shares (cmd, netcfg, preview, the wizard, the deep scan): byte counts for
// people, quoting for a POSIX shell, and a writer that keeps its first
// error so that rendering code stays flat. It imports nothing of the
// project.
package textout
