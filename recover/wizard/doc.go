// Package wizard is the logic of `vmfsrecover wizard`: a state machine that
// guides a person from a source to verified recovered files, independent of
// any terminal code.
//
// The steps, in order:
//
//	sources -> scan -> volume -> browse -> preview -> destination -> confirm -> export -> report -> done
//
// Each step is completed by one method of Wizard (SetSources, Scan,
// ChooseVolume, Next from browse or preview, SetDestination, Confirm,
// Export, Finish); browse also has List and Select, which stay in it, and
// Preview, which moves to the preview step and back.
//
// Browse shows a filtered list (List: the VMs, the disks, every file, the
// deleted ones, or every file inside the VMs' disks, with a search by name
// across them), or one folder as a level of menus (Enter, Up): a VM's
// disks, a disk's partitions and logical volumes with their file system,
// size and whether it reads, then the folders and files of one. The
// export records the path through the layers (vm1/vm1.vmdk@/p2/...). Back returns to the
// step before (see Prev) and Cancel abandons the wizard, from every step but
// the two final ones. Any other move is refused with a *TransitionError
// (errors.Is ErrTransition); Allowed is the whole transition table, and the
// tests walk all of it.
//
// A scan that finds nothing stays at the scan step, so that the person can
// ask for a deep scan (package deepscan) or go back and add sources. There,
// SetRAID reads several sources as the members of one RAID array (detected,
// or as a spec says); the scan that assembles it keeps the spec it used in
// the state, so that a resumed wizard reads the same array without
// detecting it again.
//
// State is the part that outlives a process: sources, choices, selection,
// destination (never a password), the plan and the report. It is saved as
// JSON after every step (atomically: a temporary file renamed over the old
// one), and Resume continues from it; an export interrupted at the export
// step resumes file by file, since package export skips complete files and
// continues partial ones.
//
// Two front ends drive the same machine: Terminal, a line-based prompt that
// needs nothing but a keyboard and works over SSH, on a serial console or
// with a screen reader, and RunAnswers, which takes every choice from an
// answers file (Answers, JSON) for scripts and tests.
package wizard
