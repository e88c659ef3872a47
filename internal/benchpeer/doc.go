// Package benchpeer is what the side-by-side benchmarks share: each times
// vmfsrecover and a peer tool (dd, cp, curl -T, qemu-img, debugvmfs,
// vmfs-fuse) on the same bytes in the same iteration, so that a load the
// other work on the machine puts on both falls on both, and reports
// medians of the paired runs and of their ratios.
//
// Pairs collects ours/peer pairs, Runs per iteration (RunResults runs both,
// in alternating order) and reports ours-MB/s, PEER-MB/s, x-PEER (median
// of peer time / our time: above 1 we are faster), cpu-x-PEER (the same
// for CPU time, what a loaded machine measures best) and the peak memory
// of each side. Proc runs a peer and Self runs the test binary again as
// the command it tests, both measured alike, their peak memory through
// GNU time; InProcess measures work done in the test's own process. Run,
// Add, Last and Cmd are the same with durations only. Fixture makes a
// large input once and keeps it under testdata/generated/bench (git-
// ignored) for the next run. SHA256 measures this machine's ceiling for
// any work that hashes every byte; ReportSHA256 also says whether the CPU
// has SHA instructions.
//
// `make bench-report` runs the benchmarks and prints their x- metrics as
// one table against the targets (internal/benchpeer/benchreport).
package benchpeer
