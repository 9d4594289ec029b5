"""moto's DynamoDB ``UpdateItem`` validation without its quadratic passes.

Why: moto 5.2 validates an update expression by walking its syntax tree once per check,
and two checks (at most one clause of each kind; no two actions on overlapping paths) run
again on *every* sub-expression, each time collecting the actions below it: the cost grows
with the square of the number of actions. The resize function records an outcome with one
``UpdateItem`` of about 30 actions (handlers/dynamo_store.py): 15-20 ms of CPU in moto, more
than the resize itself (10 ms for a 3 MP JPEG). Every traversal also rebuilt its
node-type table for each node it visited.

What :func:`install` changes (once per process; the embedded emulator calls it when it
starts, deploy/local/emulator.py):

- ``ActionCountValidator`` and ``OverlappingPathsValidator`` check the whole expression once,
  at its root. Every sub-expression's clauses and actions are among the root's, so an
  expression passes or fails exactly as before; when it breaks a rule twice (two ``SET``
  clauses *and* two ``ADD`` clauses, say) the error may name the other one;
- ``DepthFirstTraverser`` (every validation pass) builds its node-type table once per pass
  instead of once per node; the table is fixed per pass;
- ``UpdateExpressionParser.make`` keeps the syntax trees of the last 512 expressions it
  parsed (moto parsed each ``UpdateItem``'s expression twice, and the handlers send the same
  few expressions with different values). Safe to share: moto reads a parsed tree
  (``find_clauses``) or deep-copies it before validating (``Validator.__init__``);
- that deep copy (``validators.deepcopy``) copies syntax-tree nodes directly (their
  ``__dict__``: ``type``, ``children``, ``parent``) instead of through ``copy.deepcopy``'s
  generic protocol; anything else, and every value inside a node, still goes through
  ``copy.deepcopy`` with the same memo, so the copy is the same.

Measured on the resize function's outcome write (moto backend, no HTTP): 15 ms -> 5 ms.
"""

from __future__ import annotations

import copy
import functools
import threading
from typing import Any

from moto.dynamodb import models as dynamodb_models  # imports the parser, typed as Any
from moto.dynamodb.parsing import validators

from deploy.local import moto_internals

PARSED_EXPRESSIONS_KEPT = 512

_install_lock = threading.Lock()
_installed: dict[str, Any] = {}  # what was replaced, by "Class.method" (empty: not yet)

# What install() replaces or relies on, by moto module.
MOTO_NAMES = (
    (
        validators,
        (
            "ActionCountValidator.traverse",
            "OverlappingPathsValidator.traverse",
            "DepthFirstTraverser.nodes_to_be_processed",
            "DepthFirstTraverser.process",
            "DepthFirstTraverser._processing_map",
            "UpdateExpression",
            "Node",
            "deepcopy",
        ),
    ),
    (dynamodb_models, ("UpdateExpressionParser.make",)),
)


def _check_root_only(self: Any, node: Any) -> Any:
    """``traverse`` for the whole-expression checks: process the root node only."""
    if isinstance(node, validators.UpdateExpression):
        return self.process(node)
    return node


def _processing_table(self: Any) -> dict[Any, Any]:
    """The traverser's node-type table, built once per traverser (its map never changes)."""
    table: dict[Any, Any] | None = self.__dict__.get("_local_processing_table")
    if table is None:
        table = self._processing_map()
        self.__dict__["_local_processing_table"] = table
    return table


def _nodes_to_be_processed(self: Any) -> tuple[Any, ...]:
    nodes: tuple[Any, ...] | None = self.__dict__.get("_local_processing_nodes")
    if nodes is None:
        nodes = tuple(_processing_table(self))
        self.__dict__["_local_processing_nodes"] = nodes
    return nodes


def _process(self: Any, node: Any) -> Any:
    for class_key, processor in _processing_table(self).items():
        if isinstance(node, class_key):
            return processor(node)
    return None


def _copy_syntax_tree(obj: Any, memo: dict[int, Any] | None = None, _nil: Any = None) -> Any:
    """``copy.deepcopy(obj)`` for moto's syntax trees, faster: nodes are copied field by
    field, other values by ``copy.deepcopy`` (sharing ``memo``, as one deepcopy would)."""
    if memo is None:
        memo = {}
    if not isinstance(obj, validators.Node):
        return copy.deepcopy(obj, memo)
    done = memo.get(id(obj))
    if done is not None:
        return done
    clone = object.__new__(type(obj))
    memo[id(obj)] = clone
    for name, value in obj.__dict__.items():
        if name == "children" and isinstance(value, list):
            copied: Any = [_copy_syntax_tree(child, memo) for child in value]
        else:
            copied = _copy_syntax_tree(value, memo)
        clone.__dict__[name] = copied
    return clone


def _parse_cache(parser: Any) -> Any:
    """``parser.make`` (a classmethod) remembering its trees by expression text."""
    make = parser.make

    @functools.lru_cache(maxsize=PARSED_EXPRESSIONS_KEPT)
    def parsed(expression: str) -> Any:
        return make(expression)

    def cached_make(cls: Any, expression: str) -> Any:
        if cls is parser and isinstance(expression, str):
            return parsed(expression)
        return make.__func__(cls, expression)

    return classmethod(cached_make)


def install() -> None:
    """Apply the changes above to moto's classes. Idempotent; process-wide.

    Raises:
        moto_internals.MotoInternalsMissing: a validator, the parser or ``deepcopy`` this
            replaces is not where moto 5.2 has it; nothing is changed.
    """
    moto_internals.require("deploy/local/moto_dynamodb.py", MOTO_NAMES)
    with _install_lock:
        if _installed:
            return
        replacements: list[tuple[type, str, Any]] = [
            (validators.ActionCountValidator, "traverse", _check_root_only),
            (validators.OverlappingPathsValidator, "traverse", _check_root_only),
            (validators.DepthFirstTraverser, "nodes_to_be_processed", _nodes_to_be_processed),
            (validators.DepthFirstTraverser, "process", _process),
            (
                dynamodb_models.UpdateExpressionParser,
                "make",
                _parse_cache(dynamodb_models.UpdateExpressionParser),
            ),
        ]
        for cls, name, replacement in replacements:
            _installed[f"{cls.__name__}.{name}"] = cls.__dict__.get(name)
            setattr(cls, name, replacement)
        _installed["validators.deepcopy"] = validators.deepcopy
        validators.deepcopy = _copy_syntax_tree  # type: ignore[assignment]


def installed() -> bool:
    """Whether :func:`install` ran in this process."""
    return bool(_installed)
