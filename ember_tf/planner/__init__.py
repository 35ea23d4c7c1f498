"""The planner: between the frontends and the compiler, it sees every embedding operation
of a signature level at once (table shape and dtype, batch, lookups, distinct rows from
sample inputs) and decides, from a cost model over the machine description, which lookup
strategy each table uses (`gm`, `l1`, `gm_ub`, `l1_ub`) and which cores serve it (core
groups: tables sharing a group run one after another on all of its cores; groups run at
once), minimising the slowest group. docs/PLANNER.md states the algorithm."""

from ember_tf.planner.cost import CostModel, feasible_strategies
from ember_tf.planner.mapping import Assignment, LevelPlan, plan_exhaustive, plan_level
from ember_tf.planner.ops import STRATEGIES, TableOp

__all__ = ["STRATEGIES", "Assignment", "CostModel", "LevelPlan", "TableOp", "feasible_strategies",
           "plan_exhaustive", "plan_level"]
