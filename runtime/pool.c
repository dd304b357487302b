/* pool.c - libnnrt's one pool of threads: nnrt_parallel runs the parts of
 * a task on the caller and on nnrt_num_threads() - 1 workers.
 *
 * One pool for everything libnnrt runs in parallel (its GEMMs included:
 * OpenBLAS is kept to one thread), so no two pools spin against each other
 * on the same cores.  A worker that has finished spins for a short while
 * (a step's kernels follow each other within microseconds), then sleeps on
 * a condition variable until the next task.  The thread count is the
 * NNRT_NUM_THREADS environment variable, else the cores online; a program
 * may set it with nnrt_set_num_threads before its first parallel call.
 * Built with NNRT_NO_THREADS (a target without pthreads), everything runs
 * on the caller. */
#include "nnrt.h"

#include <stdint.h>
#include <stdlib.h>

#ifndef NNRT_NO_THREADS
#include <pthread.h>
#include <unistd.h>
#endif

enum { MAX_THREADS = 64 };

/* Parts for a batch of per_sample values a sample: one per thread, but
 * none of fewer than about 16k values (below that the hand-off costs more
 * than the part) and none empty. */
void nnrt_parallel_batch(nnrt_task fn, void *ctx, int batch, long long per_sample) {
  enum { MIN_PART = 1 << 14 };
  int parts = nnrt_num_threads();
  double work = (double)batch * (double)per_sample;
  while (parts > 1 && work / parts < MIN_PART)
    parts--;
  nnrt_parallel(fn, ctx, parts < batch ? parts : batch > 0 ? batch : 1);
}

#ifdef NNRT_NO_THREADS

int nnrt_num_threads(void) { return 1; }

void nnrt_set_num_threads(int n) { (void)n; }

void nnrt_parallel(nnrt_task fn, void *ctx, int nparts) {
  for (int i = 0; i < nparts; i++)
    fn(ctx, i, nparts);
}

#else

static int nthreads;  /* 0: not chosen yet */

static int default_threads(void) {
  const char *env = getenv("NNRT_NUM_THREADS");
  long n = env && *env ? strtol(env, NULL, 10) : 0;
  if (n < 1)
    n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

/* The task being run.  Its parts are claimed through ticket, the task's
 * generation (high 32 bits) and the next part (low 32): a claim is a
 * compare-and-swap that fails once the caller has moved on to the next task,
 * so a worker late from one task never runs a part of the next twice.  done
 * counts the parts finished.  The task's fields are written by the caller
 * before it publishes the ticket and read atomically by the workers. */
static struct {
  pthread_mutex_t lock;
  pthread_cond_t wake;
  int started, sleeping;
  nnrt_task fn;         /* __atomic, as the next three */
  void *ctx;
  int nparts;
  int done;
  uint64_t ticket;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, NULL, NULL, 0, 0, 0};

enum { SPIN = 200000 };  /* polls before a worker sleeps: ~100 us */

/* The part index of a ticket whose task is being written.  The caller
 * closes the ticket (a new generation, no part to take) before it changes
 * the task's fields and opens it after: a worker late from the last task,
 * which read the old ticket and then the new nparts, finds its
 * compare-and-swap failing instead of taking a part of a task not yet
 * published (and counting it done twice). */
#define CLOSED UINT32_MAX

/* Set while a thread runs a part: a part that calls nnrt_parallel (a GEMM
 * in a kernel run on part of the batch) runs that task itself, whole,
 * instead of waiting for the pool it is part of. */
static __thread int in_part;

/* Runs parts of task gen until none is left (or the task is over). */
static void run_parts(uint32_t gen) {
  for (;;) {
    uint64_t t = __atomic_load_n(&pool.ticket, __ATOMIC_ACQUIRE);
    if ((uint32_t)(t >> 32) != gen)
      return;
    uint32_t part = (uint32_t)t;
    if (part == CLOSED)
      continue;  /* the caller is writing the task: it opens in a moment */
    int nparts = __atomic_load_n(&pool.nparts, __ATOMIC_ACQUIRE);
    if (part >= (uint32_t)nparts)
      return;
    if (!__atomic_compare_exchange_n(&pool.ticket, &t, t + 1, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
      continue;
    nnrt_task fn = __atomic_load_n(&pool.fn, __ATOMIC_RELAXED);
    in_part = 1;
    fn(__atomic_load_n(&pool.ctx, __ATOMIC_RELAXED), (int)part, nparts);
    in_part = 0;
    __atomic_fetch_add(&pool.done, 1, __ATOMIC_RELEASE);
  }
}

static uint32_t ticket_gen(void) {
  return (uint32_t)(__atomic_load_n(&pool.ticket, __ATOMIC_ACQUIRE) >> 32);
}

static void *worker(void *arg) {
  uint32_t seen = 0;
  (void)arg;
  for (;;) {
    uint32_t gen = seen;
    for (int spin = 0; spin < SPIN && gen == seen; spin++)
      gen = ticket_gen();
    if (gen == seen) {
      pthread_mutex_lock(&pool.lock);
      pool.sleeping++;
      while ((gen = ticket_gen()) == seen)
        pthread_cond_wait(&pool.wake, &pool.lock);
      pool.sleeping--;
      pthread_mutex_unlock(&pool.lock);
    }
    seen = gen;
    run_parts(gen);
  }
  return NULL;
}

int nnrt_num_threads(void) {
  if (!nthreads)
    nthreads = default_threads();
  return nthreads;
}

void nnrt_set_num_threads(int n) {
  if (!pool.started)
    nthreads = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : n;
}

/* The workers, once: they live as long as the process. */
static void start_workers(void) {
  pool.started = 1;
  for (int i = 1; i < nnrt_num_threads(); i++) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, worker, NULL) != 0)
      nthreads = i;  /* fewer threads, not a failure */
    pthread_attr_destroy(&attr);
    if (nthreads == i)
      break;
  }
}

/* Callers are one thread at a time (a model is not used from two threads
 * at once; two models in two threads each take the pool in turn). */
static pthread_mutex_t callers = PTHREAD_MUTEX_INITIALIZER;

void nnrt_parallel(nnrt_task fn, void *ctx, int nparts) {
  if (nparts <= 1 || in_part || nnrt_num_threads() == 1) {
    for (int i = 0; i < nparts; i++)
      fn(ctx, i, nparts);
    return;
  }
  pthread_mutex_lock(&callers);
  if (!pool.started)
    start_workers();
  uint32_t gen = ticket_gen() + 1;
  __atomic_store_n(&pool.ticket, (uint64_t)gen << 32 | CLOSED, __ATOMIC_SEQ_CST);
  __atomic_store_n(&pool.fn, fn, __ATOMIC_RELAXED);
  __atomic_store_n(&pool.ctx, ctx, __ATOMIC_RELAXED);
  __atomic_store_n(&pool.done, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&pool.nparts, nparts, __ATOMIC_RELEASE);
  pthread_mutex_lock(&pool.lock);
  __atomic_store_n(&pool.ticket, (uint64_t)gen << 32, __ATOMIC_RELEASE);
  if (pool.sleeping)
    pthread_cond_broadcast(&pool.wake);
  pthread_mutex_unlock(&pool.lock);
  run_parts(gen);
  while (__atomic_load_n(&pool.done, __ATOMIC_ACQUIRE) < nparts)
    ;
  pthread_mutex_unlock(&callers);
}

#endif
