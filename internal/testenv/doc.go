// Package testenv is how the tests ask for what lies outside the
// repository: an outside program (qemu-img, debugvmfs, vsftpd, mkfs.*),
// root, loop devices, the real samples. What is missing skips the test
// with a message naming it and the Debian package that brings it.
//
// Under VMFSRECOVER_REQUIRE_TOOLS=1, which .ci/run sets, every such skip
// is a failure instead: CI runs as root on a machine where .ci/run has
// installed every package in the table below, so a skip there means a
// package missing from .ci/run, and an integration test that silently
// stopped running.
//
// The package imports nothing else of the project, so the tests of every
// package, down to vmfs/disk, can use it.
package testenv
