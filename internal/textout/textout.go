package textout

import (
	"fmt"
	"io"
	"strings"
)

// Bytes renders a byte count in binary units with one decimal: "512 B",
// "1.5 KiB", "3.0 MiB".
func Bytes(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, u := float64(n)/1024, 0
	for v >= 1024 && u < len(units)-1 {
		v, u = v/1024, u+1
	}
	return fmt.Sprintf("%.1f %ciB", v, units[u])
}

// BytesShort is Bytes without a trailing ".0": "1.5 KiB", "200 MiB".
func BytesShort(n int64) string {
	return strings.Replace(Bytes(n), ".0 ", " ", 1)
}

// ShellQuote quotes s for a POSIX shell (ESXi's busybox ash included) when
// it needs it.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ShellQuoteAll quotes each of args and joins them with spaces.
func ShellQuoteAll(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = ShellQuote(a)
	}
	return strings.Join(q, " ")
}

// ErrWriter writes to W until a write fails, then keeps that first error
// in Err and writes nothing more.
type ErrWriter struct {
	W   io.Writer
	Err error
}

func (e *ErrWriter) Write(p []byte) (int, error) {
	if e.Err != nil {
		return 0, e.Err
	}
	n, err := e.W.Write(p)
	e.Err = err
	return n, err
}

// Printf formats to the writer, unless a write already failed.
func (e *ErrWriter) Printf(format string, a ...any) {
	fmt.Fprintf(e, format, a...)
}
