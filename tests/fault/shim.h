/* shim.h - fault injection for libnnrt's tests (shim.c). */
#ifndef NNRT_FAULT_SHIM_H
#define NNRT_FAULT_SHIM_H

enum { FAULT_ALLOC = 1, FAULT_IO = 2 };

/* From now on, count the calls of the kinds given (FAULT_ALLOC and/or
 * FAULT_IO) and make the n-th fail (1 is the first; 0: none), and with
 * persist every one after it too. */
void fault_arm(int kinds, long n, int persist);
/* Stops counting and failing. */
void fault_disarm(void);
/* Calls counted since fault_arm, and how many of them were made to fail. */
long fault_calls(void);
long fault_failed(void);
/* What the n-th counted call was (its function's name), for messages. */
const char *fault_last(void);

#endif
