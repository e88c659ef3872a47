// Package benchpeer is what the side-by-side benchmarks share: each times
// vmfsrecover and a peer tool (dd, cp, curl -T, qemu-img, debugvmfs,
// vmfs-fuse) on the same bytes in the same iteration, so that a load the
// other work on the machine puts on both falls on both, and reports
// medians of the paired runs and of their ratios.
//
// Pairs collects one ours/peer pair per iteration and reports, with
// b.ReportMetric, ours-MB/s, PEER-MB/s and x-PEER (median of peer time /
// our time: above 1 we are faster). Cmd runs a peer and returns its wall
// and CPU time; CPU is what a shared machine measures best. Fixture makes a
// large input once and keeps it under testdata/generated/bench (git-
// ignored) for the next run. SHA256 measures this machine's ceiling for
// any work that hashes every byte, and says whether the CPU has SHA
// instructions.
//
// `make bench-report` runs the benchmarks and prints their x- metrics as
// one table against the targets (cmd/benchreport).
package benchpeer
