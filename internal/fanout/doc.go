// Package fanout runs the parts of one large read at once: the caller and
// helper goroutines take them in turn (Run), cut as Parts says. It is for
// work cut into parts finer than a goroutine's start and a sleeping
// thread's wake-up pay for: each MiB a sequential reader asks for, split
// over the CPUs (a RAID array's members, the runs of a VMFS file).
//
// The helpers are shared by the whole process, one per CPU but one,
// started on first use. After a part a helper spins for a short window
// waiting for the next before it sleeps, and so does a caller waiting for
// its helpers: a sequential reader asks again within microseconds, and
// waking a sleeping thread for every part (a futex wake-up, and on a
// virtual machine an interrupt to a halted virtual CPU) cost a third of
// what reading on two CPUs gains. A part no helper is free for (other
// callers hold them all) is run by its caller, so callers never wait for
// a helper to come free. It imports nothing of the project.
package fanout
