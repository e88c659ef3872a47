package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// plainLogger is the logger of export and verify: plain sentences for
// people ("warning: retrying ..."), JSON objects with --json; never
// "time=... level=WARN msg=..." among plain output. The libraries write
// their messages as whole sentences; --verbose adds the attributes, and
// the debug messages.
func plainLogger(g *globalOptions, w io.Writer) *slog.Logger {
	level := g.logLevel()
	if g.json {
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
	}
	return slog.New(&plainHandler{w: w, level: level, mu: &sync.Mutex{}})
}

type plainHandler struct {
	w     io.Writer
	level slog.Level
	attrs []slog.Attr
	mu    *sync.Mutex
}

func (h *plainHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *plainHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	}
	b.WriteString(r.Message)
	if h.level <= slog.LevelDebug {
		var kv []string
		add := func(a slog.Attr) bool {
			kv = append(kv, fmt.Sprintf("%s=%v", a.Key, a.Value))
			return true
		}
		for _, a := range h.attrs {
			add(a)
		}
		r.Attrs(add)
		if len(kv) > 0 {
			b.WriteString(" (" + strings.Join(kv, ", ") + ")")
		}
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *plainHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr{}, h.attrs...), as...)
	return &c
}

// WithGroup is not used by the libraries: groups are flattened.
func (h *plainHandler) WithGroup(string) slog.Handler { return h }
