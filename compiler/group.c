/* group.c - kernel groups: nodes that run as one C function in one mode.
 *
 * The fusion passes (fold-batchnorm, fuse-layers, fuse-elementwise) form
 * groups; the planner and the emitter treat a group as one step that runs
 * where its last member stood.  So a node may join a group only if nothing
 * outside it, scheduled between the group's first member and the new one,
 * reads what the group computes; and forward and backward nodes never mix
 * (forward(training=1) runs the first without the second).
 */
#include "nncc.h"

#include <string.h>

int node_position(const Graph *g, const IrNode *n) {
  if (n->index < g->nodes.len && g->nodes.data[n->index] == n)
    return n->index;
  /* The graph changed since (dce dropped nodes): number every node again. */
  for (int i = 0; i < g->nodes.len; i++)
    ((IrNode *)g->nodes.data[i])->index = i;
  if (n->index < g->nodes.len && g->nodes.data[n->index] == n)
    return n->index;
  internal_error("%%%d is not in the graph", n->out->id);
}

bool group_has(const Group *grp, const IrNode *n) {
  for (int i = 0; i < grp->n; i++)
    if (grp->nodes[i] == n)
      return true;
  return false;
}

Group *group_new(Graph *g, int mode, const char *pass, IrNode *first) {
  Group *grp = arena_alloc(sizeof(Group));
  grp->mode = mode;
  grp->pass = pass;
  grp->nodes[0] = first;
  grp->roles[0] = ROLE_OWN;
  grp->n = 1;
  first->group[mode] = grp;
  vec_push(&g->groups[mode], grp);
  return grp;
}

/* May the members of b (a group, or the node b0 alone) run after those of a,
 * all at b's last position? */
static bool can_join(const Graph *g, const Schedules *s, const Group *a, const IrNode *b0,
                     const Group *b) {
  int nb = b ? b->n : 1;
  const IrNode *first_b = b ? b->nodes[0] : b0;
  if (a->n + nb > GROUP_MAX || a == b)
    return false;
  for (int i = 0; i < nb; i++) {
    const IrNode *m = b ? b->nodes[i] : b0;
    if (m->backward != a->nodes[0]->backward || !runs_everywhere(g, s, m, a->mode))
      return false;
  }
  int lo = node_position(g, a->nodes[0]), hi = node_position(g, b ? b->nodes[nb - 1] : b0);
  if (node_position(g, first_b) < node_position(g, a->nodes[a->n - 1]))
    return false;
  for (int i = lo + 1; i < hi; i++) {
    const IrNode *q = g->nodes.data[i];
    if (group_has(a, q) || (b ? group_has(b, q) : q == b0) || !runs_in_mode(g, s, q, a->mode))
      continue;
    for (int k = 0; k < q->nin; k++) {
      const IrNode *d = q->in[k]->def;
      if (group_has(a, d) || (b && group_has(b, d)))
        return false;
    }
  }
  return true;
}

/* Each group names the passes that built it. */
static void add_pass(const Graph *g, Group *grp) {
  if (g->current_pass && !strstr(grp->pass, g->current_pass))
    grp->pass = arena_printf("%s, %s", grp->pass, g->current_pass);
}

bool group_append(Graph *g, const Schedules *s, Group *grp, IrNode *n, Role role) {
  if (n->group[grp->mode] || !can_join(g, s, grp, n, NULL))
    return false;
  add_pass(g, grp);
  grp->nodes[grp->n] = n;
  grp->roles[grp->n++] = role;
  n->group[grp->mode] = grp;
  return true;
}

bool group_merge(Graph *g, const Schedules *s, Group *a, Group *b) {
  if (!can_join(g, s, a, NULL, b))
    return false;
  add_pass(g, a);
  if (!strstr(a->pass, b->pass))
    a->pass = arena_printf("%s, %s", a->pass, b->pass);
  for (int i = 0; i < b->n; i++) {
    a->nodes[a->n] = b->nodes[i];
    a->roles[a->n++] = b->roles[i];
    b->nodes[i]->group[a->mode] = a;
  }
  PtrVec *list = &g->groups[a->mode];
  for (int i = 0; i < list->len; i++)
    if (list->data[i] == b) {
      for (int k = i + 1; k < list->len; k++)
        list->data[k - 1] = list->data[k];
      list->len--;
      break;
    }
  return true;
}

void groups_tidy(Graph *g) {
  for (int mode = 0; mode < NMODES; mode++) {
    PtrVec *list = &g->groups[mode];
    int kept = 0;
    for (int i = 0; i < list->len; i++) {
      Group *grp = list->data[i];
      if (grp->n > 1) {
        list->data[kept++] = grp;
        continue;
      }
      grp->nodes[0]->group[mode] = NULL;
    }
    list->len = kept;
  }
}

int group_index(const Group *grp, const IrNode *n) {
  for (int i = 0; i < grp->n; i++)
    if (grp->nodes[i] == n)
      return i;
  return -1;
}

const char *group_name(const Group *grp) {
  StrBuf sb = {0};
  for (int i = 0; i < grp->n; i++)
    sb_printf(&sb, "%s%s", i ? " + " : "", op_table[grp->nodes[i]->op]->name);
  return sb.data;
}

int kernel_position(const Graph *g, const IrNode *n, int mode) {
  const Group *grp = n->group[mode];
  return node_position(g, grp ? grp->nodes[grp->n - 1] : n);
}

void group_sections(const Group *grp, int *sec) {
  int cur = -1;
  for (int i = 0; i < grp->n; i++) {
    Role r = grp->roles[i], prev = i ? grp->roles[i - 1] : ROLE_OWN;
    bool joins = i > 0 && ((r == ROLE_LOOP && prev == ROLE_LOOP) ||
                           (r == ROLE_EPILOGUE) ||
                           (r == ROLE_PROLOGUE && prev == ROLE_PROLOGUE) ||
                           (r == ROLE_OWN && prev == ROLE_PROLOGUE));
    sec[i] = joins ? cur : ++cur;
  }
}

bool value_virtual(const Value *v, int mode) { return (v->virt >> mode) & 1; }

Value *value_storage(const Value *v) {
  while (op_table[v->def->op]->flags & OPF_VIEW)
    v = v->def->in[0];
  return (Value *)v;
}

IrNode *layer_before_norm(const Schedules *s, const IrNode *bn, int mode) {
  IrNode *layer = bn->in[0]->def, *r[8];
  if (bn->backward || !(op_table[layer->op]->flags & OPF_LAYER_HEAD) || layer->group[mode] ||
      bn->group[mode] || is_result(s, mode, bn->in[0]))
    return NULL;
  int n = readers(s, mode, bn->in[0], r, 8), forward = 0;
  for (int i = 0; i < n && i < 8; i++)
    forward += !r[i]->backward;  /* (training: batchnorm's backward reads it too) */
  return n <= 8 && forward == 1 ? layer : NULL;
}
