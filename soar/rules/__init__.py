"""Detections as code: load, validate and compile Sigma rules to Elasticsearch Query DSL."""

from soar.rules.compile import compile_rules, default_cache_dir
from soar.rules.loader import LoadedRule, LoadResult, load_rules
from soar.rules.models import CompiledCorrelation, CompiledRule, CompileResult
from soar.rules.validation import validate_rules

__all__ = [
    "CompileResult",
    "CompiledCorrelation",
    "CompiledRule",
    "LoadResult",
    "LoadedRule",
    "compile_rules",
    "default_cache_dir",
    "load_rules",
    "validate_rules",
]
