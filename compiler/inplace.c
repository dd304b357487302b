/* inplace.c - a value may be stored over the buffer of the value it is
 * computed from, element by element, when that value dies there: relu
 * after a GEMM writes over the GEMM's output, relu's backward over dy, a
 * folded batchnorm + relu over the layer's output.  The planner gives both
 * values one buffer (Value.over); the kernel sees it as one pointer.
 *
 * Legal when the writer reads its source at an index only before writing
 * there (maps, OPF_INPLACE), through a chain of such values that are never
 * stored (a fused section), and every other reader of the source runs
 * before the write: in the same section, not after the writer.  A buffer
 * may have other names, views of it (OPF_VIEW: flatten's output is its
 * input's memory): their readers are readers of the buffer too, and no
 * name of it may be a result.
 */
#include "nncc.h"

static bool same_index(const IrNode *n) {
  return op_table[n->op]->map || (op_table[n->op]->flags & OPF_INPLACE);
}

/* The input of n its chain of unstored values runs through, else input 0. */
static Value *chain_input(const IrNode *n, int mode) {
  for (int k = 0; k < n->nin; k++)
    if (value_virtual(n->in[k], mode))
      return n->in[k];
  return n->in[0];
}

/* The stored value n's result is computed from, element by element. */
static Value *source_of(const IrNode *n, int mode) {
  Value *v = chain_input(n, mode);
  while (value_virtual(v, mode)) {
    if (!same_index(v->def))
      return NULL;
    v = chain_input(v->def, mode);
  }
  return v;
}

enum { MAX_READERS = 64 };

/* The nodes that read the buffer whose value is v, through every name of
 * it (v and the views of it, theirs...), views left out as they run no
 * kernel: their count, or more than MAX_READERS; -1 if a name is a result. */
static int buffer_readers(const Schedules *s, int mode, Value *v, IrNode **rd) {
  Value *names[MAX_READERS];
  int nnames = 1, count = 0;
  names[0] = v;
  for (int i = 0; i < nnames; i++) {
    if (is_result(s, mode, names[i]))
      return -1;
    IrNode *r[MAX_READERS];
    int nr = readers(s, mode, names[i], r, MAX_READERS);
    if (nr > MAX_READERS)
      return MAX_READERS + 1;
    for (int k = 0; k < nr; k++) {
      bool view = op_table[r[k]->op]->flags & OPF_VIEW;
      if (view ? nnames == MAX_READERS : count == MAX_READERS)
        return MAX_READERS + 1;
      if (view)
        names[nnames++] = r[k]->out;
      else
        rd[count++] = r[k];
    }
  }
  return count;
}

bool inplace(Graph *g) {
  Schedules s = schedules_of(g);
  bool *taken = arena_alloc(sizeof(bool) * (size_t)(g->next_value_id + 1));
  for (int mode = 0; mode < NMODES; mode++) {
    for (int i = 0; i < g->next_value_id; i++)
      taken[i] = false;
    for (int i = 0; i < g->nodes.len; i++) {
      IrNode *n = g->nodes.data[i];
      if (!runs_in_mode(g, &s, n, mode) || !same_index(n) || n->out->ty.kind != T_F32 ||
          n->out->ty.fixed || value_virtual(n->out, mode) || (mode == MODE_INFER && n->backward))
        continue;
      Value *src = source_of(n, mode);
      Value *buf = src ? value_storage(src) : NULL;  /* whose buffer it is */
      if (!src || taken[buf->id] || buf->def->op == OP_INPUT || buf->def->op == OP_LABEL ||
          src->ty.kind != T_F32 || src->ty.fixed || buf->ty.kind != T_F32 || buf->ty.fixed ||
          type_numel(&src->ty) != type_numel(&n->out->ty))
        continue;
      /* every reader of the buffer, by any name: n; before n in n's
       * section; or a kernel that runs before n's */
      const Group *grp = n->group[mode];
      int sec[GROUP_MAX], at = grp ? group_index(grp, n) : 0;
      int runs_at = kernel_position(g, n, mode);
      if (grp)
        group_sections(grp, sec);
      IrNode *rd[MAX_READERS];
      int nr = buffer_readers(&s, mode, buf, rd);
      bool ok = nr >= 0 && nr <= MAX_READERS;
      for (int k = 0; k < nr && ok; k++) {
        if (rd[k] == n)
          continue;
        int j = grp ? group_index(grp, rd[k]) : -1;
        ok = j >= 0 ? j < at && sec[j] == sec[at] : kernel_position(g, rd[k], mode) < runs_at;
      }
      if (!ok)  /* (and one writer per source: `taken`) */
        continue;
      taken[buf->id] = true;
      n->out->over[mode] = src;
    }
  }
  return true;
}
