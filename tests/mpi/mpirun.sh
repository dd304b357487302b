# tests/mpi/mpirun.sh - sourced by the tests of data-parallel training:
# run_ranks N SECONDS COMMAND... runs COMMAND as N ranks on this machine.
# As root (CI's containers) Open MPI wants to be told twice; its shared-
# memory transport copies without ptrace (containers forbid it); the
# machine's cores do not limit the ranks (--oversubscribe).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_rmaps_base_oversubscribe=1
run_ranks() {
  local n=$1 seconds=$2
  shift 2
  timeout "$seconds" mpirun --oversubscribe -np "$n" "$@"
}
