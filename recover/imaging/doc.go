// Package imaging copies a failing disk to an image file the way GNU
// ddrescue does, recording in a ddrescue mapfile (package
// vmfs/disk/mapfile) what was read and what was not, so that recovery then
// works on the image and knows which of its bytes are lost.
//
// A rescue moves through four phases, each resumable from the mapfile:
//
//  1. Copying: the non-tried parts are read in large chunks, good areas
//     first. A chunk that fails is marked non-trimmed and the copy skips
//     ahead (further after each failure in a row), leaving the skipped part
//     non-tried for a second sweep without skipping: the drive spends its
//     time where it reads well.
//  2. Trimming: each non-trimmed block is read sector by sector from its
//     leading edge until a sector fails, then from its trailing edge back
//     until one fails; those sectors are bad, the rest of the block
//     non-scraped.
//  3. Scraping: every sector of the non-scraped blocks is read once; those
//     that fail are bad.
//  4. Retrying (Options.Retries passes): the bad sectors are read again.
//
// A read that fails because the link to a remote disk stayed down, or
// because the user interrupted, stops the rescue instead of marking
// sectors bad: the mapfile is saved and a later run resumes it. The image
// is written sparse: all-zero chunks are not written, and the file is
// sized to the disk at the start, so unread areas read as zeros. Before
// each save of the mapfile the image is synced, so a crash never leaves a
// mapfile that claims bytes the image does not hold.
package imaging
