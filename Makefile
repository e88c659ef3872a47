# vmfsrecover build, test and benchmark entry points. See README.md.
GO       ?= go
BIN      ?= bin/vmfsrecover
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null)
FUZZTIME ?= 20s
DEMO     := $(CURDIR)/testdata/demo

.PHONY: build test unit lint fuzz bench bench-report demo fixtures clean

# build makes a static binary (no cgo): it runs as it is on a rescue
# system or the host that has the disk, where a deep scan runs at the
# disk's speed.
# The version is what git describe says of the tree (vmfsrecover version).
build:
	CGO_ENABLED=0 $(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/vmfsrecover

# lint: formatting and vet; then the tests (see unit). Tests that
# need an outside tool (qemu-img, debugvmfs, vsftpd, sshd, tmux, mkfs.*, testdisk) skip with a
# message when it is missing (internal/testenv); .ci/run installs them all and sets
# VMFSRECOVER_REQUIRE_TOOLS=1, under which such a skip fails.
test: lint unit

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Two passes: every test with the race detector, leaving out (-short) the
# heavy conformance tests that hash hundreds of MiB, which the race
# detector slows tenfold; then everything without it.
unit:
	$(GO) test -race -short -timeout 20m ./...
	$(GO) test -timeout 20m ./...

# fuzz runs every fuzz target for FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$target"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# bench runs the Go benchmarks; they time peer tools (cp, cat, curl -T,
# qemu-img, nbdcopy from libnbd-bin, ssh) on the same input in the same run
# and report ratios. A missing peer leaves its ratio out.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./...

# bench-report runs issue 14's side-by-side benchmarks (and issue 17's
# degraded RAID reads against one image), each iteration one
# paired run of ours and the peer's, five runs each (BENCH_COUNT), at the
# issue's sizes, and prints one table: work, ours, the peer's, the median
# ratio (wall and CPU time), our peak memory, the target and whether it is
# met, with this machine's SHA-256 rate. The raw output stays in
# bench-report.out. Needs dd, vmfs-tools, curl, vsftpd, qemu-utils, fuse3.
# The mount rows (issue 16) add the FUSE ceiling: the fastest read through
# our FUSE server (a plain file served as it is), against which the mount's
# target shows whether it is reachable on this machine.
BENCH_COUNT ?= 5
bench-report:
	EXPORT_BENCH_MB=2048 $(GO) test -run '^$$' -bench '^Benchmark(CatVs|LsVs|LocalExportVs|FTPExportVs|DumpVsQemuImg|DeepScanVs|MountCat$$|MountCeiling$$|Read$$)' \
	  -benchtime 1x -count $(BENCH_COUNT) -timeout 2h \
	  ./cmd/vmfsrecover ./recover/export ./recover/deepscan ./vmfs/disk/raid | tee bench-report.out
	$(GO) run ./internal/benchpeer/benchreport < bench-report.out

# fixtures writes the generated VMFS5/VMFS6 test volumes (package
# vmfs/vmfstest) as testdata/generated/NAME.img + NAME.expected; add
# MKVMFS_FLAGS=-huge for the 300 GiB-file volumes (slow to hash).
fixtures:
	$(GO) run ./vmfs/vmfstest/cmd/mkvmfs -out testdata/generated $(MKVMFS_FLAGS)

# demo builds the tool, writes a sample VMFS6 datastore with the project's
# generator (every addressing mode, thin and fragmented files, symlinks and
# deleted files), then runs the main job on it: find the volume, list it,
# deep-scan it for deleted files, export everything with a hash manifest and
# verify the copy; then preview a file and run the wizard from an answers file;
# then stripe the datastore over a 4-member RAID 5, lose a member, and list it
# from the other three, shuffled, with --raid auto; then put a VM's disk
# (an ext4 partition made by sfdisk and mkfs.ext4 -d) as a VMDK into a
# second datastore and recover a file from inside it, through the
# NAME.vmdk@ folder beside the VMDK.
demo: build
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(GO) run ./vmfs/vmfstest/cmd/mkvmfs -out $(DEMO) -run '^vmfs6-tree$$'
	$(BIN) scan $(DEMO)/vmfs6-tree.img
	$(BIN) ls -l $(DEMO)/vmfs6-tree.img /directory
	$(BIN) scan --deep --scan-dir $(DEMO) $(DEMO)/vmfs6-tree.img
	$(BIN) ls -rl --deleted --scan-dir $(DEMO) $(DEMO)/vmfs6-tree.img
	$(BIN) export --deep --scan-dir $(DEMO) $(DEMO)/vmfs6-tree.img --to $(DEMO)/recovered
	$(BIN) verify --manifest $(DEMO)/recovered/vmfsrecover-manifest.jsonl
	$(BIN) preview $(DEMO)/vmfs6-tree.img /directory/file4
	printf '{"filter": "all", "search": "directory", "select": ["*"], "destination": {"local": "%s"}}\n' $(DEMO)/wizard > $(DEMO)/answers.json
	$(BIN) wizard --state $(DEMO)/wizard.json --answers $(DEMO)/answers.json $(DEMO)/vmfs6-tree.img
	$(GO) run ./vmfs/disk/raid/raidtest/cmd/mkraid -level raid5 -layout left-symmetric -chunk 64k -members 4 -out $(DEMO)/raid $(DEMO)/vmfs6-tree.img
	rm $(DEMO)/raid/m1.img
	$(BIN) ls -l --raid auto $(DEMO)/raid/m3.img $(DEMO)/raid/m0.img $(DEMO)/raid/m2.img -- /directory
	mkdir -p $(DEMO)/guest/etc $(DEMO)/guest/home/alice
	echo demo-vm > $(DEMO)/guest/etc/hostname && echo 'quarterly numbers' > $(DEMO)/guest/home/alice/report.txt
	truncate -s 8M $(DEMO)/vm2-flat.vmdk && echo 'start=2048, type=83' | sfdisk -q $(DEMO)/vm2-flat.vmdk
	mkfs.ext4 -q -E offset=1048576 -d $(DEMO)/guest $(DEMO)/vm2-flat.vmdk 7M
	printf '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="vmfs"\nRW 16384 VMFS "vm2-flat.vmdk"\n' > $(DEMO)/vm2.vmdk
	printf '{"Version":6,"Label":"guests","Files":[{"Path":"vm2/vm2.vmdk","Data":"%s"},{"Path":"vm2/vm2-flat.vmdk","Data":"%s","Thin":true}]}' \
	  "$$(base64 -w0 $(DEMO)/vm2.vmdk)" "$$(base64 -w0 $(DEMO)/vm2-flat.vmdk)" > $(DEMO)/guests.json
	$(GO) run ./vmfs/vmfstest/cmd/mkvmfs -spec $(DEMO)/guests.json -out $(DEMO)/guests.img
	$(BIN) ls -l $(DEMO)/guests.img /vm2
	$(BIN) ls -rl $(DEMO)/guests.img /vm2/vm2.vmdk@
	$(BIN) cat $(DEMO)/guests.img /vm2/vm2.vmdk@/p1/home/alice/report.txt
	$(BIN) export $(DEMO)/guests.img /vm2 --guests --to $(DEMO)/recovered-guest
	$(BIN) verify --manifest $(DEMO)/recovered-guest/vmfsrecover-manifest.jsonl
	$(BIN) ls -r $(DEMO)/vm2.vmdk
	@echo "demo: recovered files are in $(DEMO)/recovered and $(DEMO)/recovered-guest"

clean:
	rm -rf bin testdata/generated $(DEMO)
