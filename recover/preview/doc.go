// Package preview shows a file found on a volume without exporting it: the
// view behind `vmfsrecover preview` and the wizard's preview step.
//
// It works on any io/fs.FS whose files implement io.ReaderAt (a VMFS volume,
// deep-scan findings, os.DirFS, testing/fstest.MapFS) and reads only what it
// shows, so previewing a 2 TB disk costs a few sectors:
//
//   - text (.vmx, .vmsd, .vmxf, .log, VMDK descriptors, anything that sniffs
//     as UTF-8 without NUL bytes) is shown as text, capped in size and cut at
//     a character boundary;
//   - anything else is a hex dump with absolute offsets, repeated lines
//     collapsed to "*" as hexdump -C does;
//   - a .vmx is summarised: VM name, guest OS, CPUs, memory, firmware, the
//     disks (whether each descriptor, extent and snapshot parent was found on
//     the volume) and the network adapters. The .vmx format is lines of
//     key = "value"; keys are case-insensitive and values escape bytes as |XX
//     (two hex digits), e.g. |22 for a double quote;
//   - a VMDK (descriptor, sparse disk, or a lone -flat.vmdk read as a raw
//     disk) is summarised through package vmdk: type, capacity, allocated
//     bytes, extents, snapshot chain and the parts that are missing, then the
//     guest's partition table (MBR/GPT, package partition) and the file
//     system of each partition, found by signature.
//
// Nothing here writes; a missing or damaged part is reported in the result,
// not as an error, so that a person sees what there is.
package preview
