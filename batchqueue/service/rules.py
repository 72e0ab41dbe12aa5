"""The named rules a job keeps (calling hours, days, holidays, recontact…), as the front ends give
and show them: parsed and checked by :mod:`batchqueue.calling.registry`, re-exported here."""

from __future__ import annotations

from batchqueue.calling.registry import RULES, check_rule, given_rules, parse_rule_args, rules_line, rules_table
from batchqueue.calling.rules import CallingRules

__all__ = ["RULES", "CallingRules", "check_rule", "given_rules", "parse_rule_args", "rules_line", "rules_table"]
