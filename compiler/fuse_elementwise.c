/* fuse_elementwise.c - chains of elementwise ops (maps: relu, dropout,
 * add, the activations' backward, ...) run in one loop, and join the kernel
 * next to them:
 *
 *   - after a kernel that stores its result one element at a time
 *     (OPF_STORES: batchnorm, another map), they run inside that store (an
 *     epilogue: conv + batchnorm + relu + dropout make one pass after the
 *     GEMM);
 *   - after linear or conv2d they run in one loop right after the GEMM;
 *   - before a kernel that loads its input one element at a time
 *     (OPF_LOADS: batchnorm's backward), they run inside that load (a
 *     prologue: relu's backward is computed where batchnorm's reads it).
 *
 * A value computed and read only inside one such section is never stored
 * (Value.virt); the others are stored as before.  Per mode: inference and
 * training fuse differently (dropout is a map in both).
 */
#include "nncc.h"

static bool is_map(const IrNode *n) { return op_table[n->op]->map != NULL; }

/* Can a map run after p's kernel, in p's group? */
static bool hosts_maps(const IrNode *p) {
  int f = op_table[p->op]->flags;
  if (p->op == OP_INPUT || p->op == OP_LABEL || p->out->ty.kind != T_F32 || p->out->ty.fixed)
    return false;
  return is_map(p) || (f & OPF_STORES) || ((f & OPF_LAYER_HEAD) && !p->backward);
}

static Role role_after(const Group *grp, const IrNode *p) {
  Role r = grp->roles[group_index(grp, p)];
  if (is_map(p))
    return r == ROLE_EPILOGUE ? ROLE_EPILOGUE : ROLE_LOOP;
  return (op_table[p->op]->flags & OPF_STORES) ? ROLE_EPILOGUE : ROLE_LOOP;
}

/* Appends map n to the group of the producer of one of its inputs. */
static void chain_map(Graph *g, const Schedules *s, int mode, IrNode *n) {
  for (int k = 0; k < n->nin; k++) {
    IrNode *p = n->in[k]->def;
    if (!hosts_maps(p) || !runs_everywhere(g, s, p, mode) ||
        type_numel(&p->out->ty) != type_numel(&n->out->ty))
      continue;
    Group *grp = p->group[mode];
    if (grp && grp->nodes[grp->n - 1] != p)
      continue;
    bool fresh = !grp;
    if (fresh) {
      grp = group_new(g, mode, "fuse-elementwise", p);
      grp->roles[0] = is_map(p) ? ROLE_LOOP : ROLE_OWN;
    }
    if (group_append(g, s, grp, n, role_after(grp, p)))
      return;
  }
}

/* Turns the run of maps that ends the group of n's input into n's
 * prologue, if each feeds only the next and the last only n's input 0. */
static void chain_prologue(Graph *g, const Schedules *s, int mode, IrNode *n) {
  IrNode *p = n->in[0]->def;
  if (!is_map(p) || !runs_everywhere(g, s, p, mode))
    return;
  Group *grp = p->group[mode];
  bool fresh = !grp;
  if (fresh) {
    grp = group_new(g, mode, "fuse-elementwise", p);
    grp->roles[0] = ROLE_LOOP;
  }
  if (grp->nodes[grp->n - 1] != p || grp->roles[grp->n - 1] != ROLE_LOOP)
    return;
  int lo = grp->n;
  const IrNode *next = n;
  while (lo > 0 && grp->roles[lo - 1] == ROLE_LOOP) {
    const IrNode *m = grp->nodes[lo - 1];
    IrNode *r[2];
    if (is_result(s, mode, m->out) || readers(s, mode, m->out, r, 2) != 1 || r[0] != next ||
        next->in[0] != m->out)
      break;
    next = m;
    lo--;
  }
  if (lo == grp->n || (lo > 0 && grp->roles[lo - 1] == ROLE_LOOP))
    return;  /* not the whole run: it stays a loop */
  Group *own = n->group[mode];
  bool ok = own ? own->nodes[0] == n && group_merge(g, s, grp, own)
                : group_append(g, s, grp, n, ROLE_OWN);
  if (ok)
    for (int i = lo; i < grp->n && grp->nodes[i] != n; i++)
      grp->roles[i] = ROLE_PROLOGUE;
}

/* Marks the values that live only inside their section. */
static void mark_virtual(const Schedules *s, Group *grp) {
  int sec[GROUP_MAX];
  group_sections(grp, sec);
  for (int i = 0; i < grp->n; i++) {
    const IrNode *m = grp->nodes[i];
    Role r = grp->roles[i];
    bool host = r == ROLE_OWN && (op_table[m->op]->flags & OPF_STORES) && i + 1 < grp->n &&
                grp->roles[i + 1] == ROLE_EPILOGUE;
    if ((r == ROLE_OWN && !host) || is_result(s, grp->mode, m->out))
      continue;
    IrNode *rd[GROUP_MAX + 1];
    int nr = readers(s, grp->mode, m->out, rd, GROUP_MAX + 1), ok = nr > 0;
    for (int k = 0; k < nr && k <= GROUP_MAX && ok; k++) {
      int j = group_index(grp, rd[k]);
      ok = nr <= GROUP_MAX && j > i && sec[j] == sec[i] &&
           (is_map(rd[k]) || (grp->roles[i] == ROLE_PROLOGUE && rd[k]->in[0] == m->out));
    }
    if (ok)
      m->out->virt |= 1u << grp->mode;
  }
}

bool fuse_elementwise(Graph *g) {
  Schedules s = schedules_of(g);
  for (int mode = 0; mode < NMODES; mode++) {
    for (int i = 0; i < g->nodes.len; i++) {
      IrNode *n = g->nodes.data[i];
      if (!runs_everywhere(g, &s, n, mode) || (mode == MODE_INFER && n->backward))
        continue;
      if (is_map(n) && !n->group[mode])
        chain_map(g, &s, mode, n);
      else if (op_table[n->op]->flags & OPF_LOADS)
        chain_prologue(g, &s, mode, n);
    }
  }
  groups_tidy(g);
  for (int mode = 0; mode < NMODES; mode++)
    for (int i = 0; i < g->groups[mode].len; i++)
      mark_virtual(&s, g->groups[mode].data[i]);
  return true;
}
