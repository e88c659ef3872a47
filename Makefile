# vmfsrecover build, test and benchmark entry points. See README.md.
GO       ?= go
BIN      ?= bin/vmfsrecover
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null)
FUZZTIME ?= 20s
DEMO     := $(CURDIR)/testdata/demo

.PHONY: build test unit lint fuzz bench demo fixtures clean

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
# from the other three, shuffled, with --raid auto.
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
	@echo "demo: recovered files are in $(DEMO)/recovered"

clean:
	rm -rf bin testdata/generated $(DEMO)
