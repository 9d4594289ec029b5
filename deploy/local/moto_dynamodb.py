"""moto's DynamoDB without its quadratic passes and per-node lookups: ``UpdateItem``,
``GetItem`` and every item in a response cost a fraction of moto's own CPU.

Why: moto 5.2 validates an update expression by walking its syntax tree once per check,
and two checks (at most one clause of each kind; no two actions on overlapping paths) ran
again on *every* sub-expression, each time collecting the actions below it: the cost grew
with the square of the number of actions. The resize function records an outcome with one
``UpdateItem`` of about 40 actions (handlers/dynamo_store.py): 15-20 ms of CPU in moto, more
than the resize itself (10 ms for a 3 MP JPEG). Its responses go through a model-driven
serializer that looks every member of every attribute value up under each alias it knows.

What :func:`install` changes (once per process; the embedded emulator calls it when it
starts, deploy/local/emulator.py). Every change gives the same answers, the same errors and
the same stored items (tests/e2e/test_emulator_speedups.py compares them with moto's own):

- ``ActionCountValidator`` and ``OverlappingPathsValidator`` check the whole expression once,
  at its root. Every sub-expression's clauses and actions are among the root's, so an
  expression passes or fails exactly as before; when it breaks a rule twice (two ``SET``
  clauses *and* two ``ADD`` clauses, say) the error may name the other one;
- ``DepthFirstTraverser`` (every validation pass) finds the processor of a node by its
  class, once per pair of classes (:func:`_processor_for`), where moto ran ``isinstance``
  through ``ABCMeta`` for every table entry at every node, and rebuilt the table per node;
- ``UpdateExpressionParser.make`` keeps the syntax trees of the last 512 expressions it
  parsed (moto parsed each ``UpdateItem``'s expression twice, and the handlers send the same
  few expressions with different values). Safe to share: moto reads a parsed tree
  (``find_clauses``) or deep-copies it before validating (``Validator.__init__``). That
  copy (``validators.deepcopy``) is an unpickling of the pickle taken at parse time (C
  speed), and ``find_clauses`` on a cached tree is answered from memory;
  ``find_clauses`` elsewhere checks each child's class once per class;
- ``ConditionExpressionParser.parse`` answers a second parse of the same condition with the
  same name and value mappings from the first (``UpdateItem`` parsed it twice per call);
- ``DynamoType.size`` (summed over every attribute on each attribute an update writes, for
  the 400 KB limit) no longer rebuilds every nested value to measure it;
- every ``AttributeValue`` in a response (``GetItem``'s item, ``Query`` and ``Scan`` items,
  ``ReturnValues``) is written by :func:`_wire_value` instead of moto's model-driven
  serializer, which looks each of the shape's ten members up under every alias it knows
  (about 200 lookups per attribute): 80 % of a ``GetItem`` of one image's item. moto hands
  the serializer its items already in the wire shape (``{"S": "x"}``, ``{"M": {...}}``),
  so each value is copied as the serializer would write it (strings and numbers through
  ``str``, ``NULL``/``BOOL`` as they are, ``M``/``L``/``SS``/``NS`` member by member);
  binary values (``B``, ``BS``: base64) and anything else unexpected still go through
  moto's serializer.

Measured on the embedded pipeline (benchmarks/call_costs.py, CPU per call inside moto, 3 MP
uploads through the API): the outcome ``UpdateItem`` 7.8-8.4 ms -> 5.2 ms (15-20 ms before
the first three changes), ``GetItem`` of an image's item 2.6 -> 0.8 ms.
"""

from __future__ import annotations

import copy
import functools
import pickle
import threading
from typing import Any

from moto.core import serialize
from moto.dynamodb import comparisons
from moto.dynamodb import models as dynamodb_models  # imports the parser, typed as Any
from moto.dynamodb.models import dynamo_type as dynamo_type_module
from moto.dynamodb.models import utilities as dynamo_models_utilities
from moto.dynamodb.parsing import ast_nodes, validators

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
            "DepthFirstTraverser.traverse_node_recursively",
            "DepthFirstTraverser.pre_processing_of_child",
            "UpdateExpression",
            "Node",
            "deepcopy",
        ),
    ),
    (dynamodb_models, ("UpdateExpressionParser.make",)),
    (
        ast_nodes,
        ("Node.find_clauses", "Expression", "UpdateExpressionFunction", "DepthFirstTraverser"),
    ),
    (dynamo_type_module, ("DynamoType.size",)),
    (dynamo_models_utilities, ("bytesize",)),
    (comparisons, ("ConditionExpressionParser.parse",)),
    (serialize, ("BaseJSONSerializer._serialize_type_structure",)),
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


_NOT_A_NODE = object()
_UNKNOWN = object()


_class_keys: dict[tuple[type, type], Any] = {}  # (traverser class, node class) -> table key


def _processor_for(self: Any, node_type: type) -> Any:
    """The processor ``traverse_node_recursively`` applies to nodes of ``node_type`` (the
    first matching entry of the table, as ``process`` picks it), ``None`` for a node it
    leaves alone, :data:`_NOT_A_NODE` for anything else. The matching entry depends on the
    classes only (every table lists fixed node classes), so it is found once per pair of
    classes (moto's ``isinstance`` checks go through ``ABCMeta``), then kept per traverser
    as its bound processor."""
    known: dict[type, Any] = self.__dict__.setdefault("_local_processor_by_type", {})
    try:
        return known[node_type]
    except KeyError:
        pass
    pair = (type(self), node_type)
    class_key = _class_keys.get(pair, _UNKNOWN)
    if class_key is _UNKNOWN:
        class_key = _NOT_A_NODE
        if issubclass(node_type, ast_nodes.Node):  # type: ignore[attr-defined]
            class_key = next(
                (key for key in _processing_table(self) if issubclass(node_type, key)), None
            )
        _class_keys[pair] = class_key
    found = class_key
    if class_key is not None and class_key is not _NOT_A_NODE:
        found = _processing_table(self)[class_key]
    known[node_type] = found
    return found


def _traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
    """``DepthFirstTraverser.traverse_node_recursively`` with its per-node type checks
    looked up by class (:func:`_processor_for`); the same nodes visited in the same order,
    the same processors applied, ``pre_processing_of_child`` called where a traverser has
    one of its own."""
    known: dict[type, Any] = self.__dict__.setdefault("_local_processor_by_type", {})
    pre_processing_of_child = self.pre_processing_of_child
    own_pre_processing = (
        type(self).pre_processing_of_child
        is not ast_nodes.DepthFirstTraverser.pre_processing_of_child  # type: ignore[attr-defined]
    )

    def visit(node: Any, child_id: int) -> Any:
        node_type = type(node)
        processor = known.get(node_type, _UNKNOWN)
        if processor is _UNKNOWN:
            processor = _processor_for(self, node_type)
        if processor is _NOT_A_NODE:
            return node
        parent_node = node.parent
        children = node.children
        if children is not None:
            for i, child_node in enumerate(children):
                if own_pre_processing:
                    pre_processing_of_child(node, i)
                visit(child_node, i)
        if processor is not None:
            node = processor(node)
            node.parent = parent_node
            if parent_node:
                parent_node.children[child_id] = node
        return node

    return visit(node, child_id)


_clauses_of_cached_trees: dict[tuple[int, tuple[type, ...]], list[Any]] = {}
_searched_types: dict[type, bool] = {}  # node class -> find_clauses looks inside it


def _find_clauses(self: Any, clause_types: Any) -> list[Any]:
    """``Node.find_clauses`` with its two ``isinstance`` checks per child (``Expression``,
    ``UpdateExpressionFunction``: ``ABCMeta`` classes) answered once per class."""
    clauses: list[Any] = []
    for child in self.children or []:
        child_type = type(child)
        if child_type in clause_types:
            clauses.append(child)
            continue
        searched = _searched_types.get(child_type)
        if searched is None:
            searched = issubclass(
                child_type,
                (ast_nodes.Expression, ast_nodes.UpdateExpressionFunction),  # type: ignore[attr-defined]
            )
            _searched_types[child_type] = searched
        if searched:
            clauses.extend(child.find_clauses(clause_types))
    return clauses


def _find_clauses_of_cached_trees(self: Any, clause_types: Any) -> list[Any]:
    """:func:`_find_clauses`, answering from memory for the root of a cached syntax tree
    (never changed: see :func:`_remember_pickle`); ``UpdateItem`` asks it twice per call."""
    entry = _pickled_trees.get(id(self))
    if entry is None or entry[0] is not self:
        return _find_clauses(self, clause_types)
    key = (id(self), tuple(clause_types))
    found = _clauses_of_cached_trees.get(key)
    if found is None:
        found = _find_clauses(self, clause_types)
        with _pickled_lock:
            _clauses_of_cached_trees[key] = found
    return list(found)


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


_pickled_trees: dict[int, tuple[Any, bytes]] = {}  # id(tree) -> (tree, its pickle)
_pickled_lock = threading.Lock()


def _copy_tree(obj: Any, memo: dict[int, Any] | None = None, _nil: Any = None) -> Any:
    """``validators.deepcopy``: a syntax tree from the parse cache is copied by unpickling
    the pickle taken when it was parsed (C speed; the same nodes and fields, the parent
    links included); anything else by :func:`_copy_syntax_tree`."""
    if memo is None:
        entry = _pickled_trees.get(id(obj))
        if entry is not None and entry[0] is obj:
            return pickle.loads(entry[1])
    return _copy_syntax_tree(obj, memo)


def _remember_pickle(tree: Any) -> None:
    """Keep ``tree``'s pickle for :func:`_copy_tree` (trees of the parse cache are never
    changed: moto deep-copies them before validating). Bounded like the cache."""
    try:
        blob = pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # not picklable: copied node by node instead
        return
    with _pickled_lock:
        if len(_pickled_trees) >= PARSED_EXPRESSIONS_KEPT:
            _pickled_trees.clear()  # entries come back as their trees are parsed again
            _clauses_of_cached_trees.clear()
        _pickled_trees[id(tree)] = (tree, blob)


def _parse_cache(parser: Any) -> Any:
    """``parser.make`` (a classmethod) remembering its trees by expression text."""
    make = parser.make

    @functools.lru_cache(maxsize=PARSED_EXPRESSIONS_KEPT)
    def parsed(expression: str) -> Any:
        tree = make(expression)
        _remember_pickle(tree)
        return tree

    def cached_make(cls: Any, expression: str) -> Any:
        if cls is parser and isinstance(expression, str):
            return parsed(expression)
        return make.__func__(cls, expression)

    return classmethod(cached_make)


_SETS = frozenset({"SS", "NS", "BS"})


def _number_bytes(text: str) -> int:
    """A number's bytes as the installed moto counts them: moto 5.2.6 added AWS's rule
    (``number_size``: one byte per two significant digits, plus one); 5.2.5 counted the
    characters."""
    number_size = getattr(dynamo_models_utilities, "number_size", None)
    return int(number_size(text)) if number_size is not None else len(text)


def _size(self: Any) -> int:
    """``DynamoType.size`` (an attribute's bytes, for the 400 KB item limit) without
    rebuilding every nested value first: moto's own wraps each map entry in a new
    ``DynamoType``, which copies the whole subtree, at every level, and ``LimitedSizeDict``
    sums every attribute's size on each attribute written. Same cases, same order, same
    result."""
    kind, value = self.type, self.value
    if kind == "N":
        return _number_bytes(str(value))
    if kind in _SETS:
        return sum(_size(_dynamo_type({kind[0]: member})) for member in value)
    if kind == "L":
        return sum(member.size() for member in value)
    if kind == "M":
        return sum(
            dynamo_models_utilities.bytesize(name) + _size(_dynamo_type(member))
            for name, member in value.items()
        )
    if isinstance(value, bool):
        return 1
    return dynamo_models_utilities.bytesize(value)


def _dynamo_type(value: Any) -> Any:
    """``value`` as a ``DynamoType`` (itself when it is one: read, never changed here)."""
    dynamo_type = dynamo_type_module.DynamoType
    return value if type(value) is dynamo_type else dynamo_type(value)


_last_condition = threading.local()


def _parse_once_per_request(parse: Any) -> Any:
    """``ConditionExpressionParser.parse`` answering a second parse of the same expression
    with the same name and value mappings (the same objects, held here so that their ids
    stay theirs) with the first one's result: ``UpdateItem`` parses its condition twice,
    once to check the placeholders used and once to evaluate it."""

    def parse_once(self: Any) -> Any:
        names, values = self.expression_attribute_names, self.expression_attribute_values
        last = getattr(_last_condition, "entry", None)
        if (
            last is not None
            and names is not None
            and values is not None
            and last[0] is names
            and last[1] is values
            and last[2] == self.condition_expression
        ):
            self.expr_attr_names_found = list(last[4])
            self.expr_attr_values_found = list(last[5])
            return last[3]
        result = parse(self)
        _last_condition.entry = (
            names,
            values,
            self.condition_expression,
            result,
            tuple(self.expr_attr_names_found),
            tuple(self.expr_attr_values_found),
        )
        return result

    return parse_once


class _NotWireShaped(Exception):
    """A value :func:`_wire_value` leaves to moto's own serializer."""


_STRINGS = frozenset({"S", "N"})
_STRING_SETS = frozenset({"SS", "NS"})
_FLAGS = frozenset({"NULL", "BOOL"})
_EMPTY: tuple[Any, ...] = (None, {}, [])


def _string(value: Any) -> Any:
    """moto's JSON serializer on a string member: ``str`` unless None or an empty dict/list."""
    return value if value in _EMPTY else str(value)


def _wire_value(value: Any) -> dict[str, Any]:
    """One DynamoDB ``AttributeValue`` as moto's JSON serializer writes it.

    Raises:
        _NotWireShaped: ``value`` holds binary data or is not a wire-shaped dict.
    """
    if type(value) is not dict:
        raise _NotWireShaped
    out: dict[str, Any] = {}
    for kind, member in value.items():
        if member is None:  # a missing member, as moto's serializer skips it
            continue
        if kind in _STRINGS:
            out[kind] = _string(member)
        elif kind in _FLAGS:
            out[kind] = member
        elif kind == "M" and type(member) is dict:
            out[kind] = {
                name: _wire_value(entry) for name, entry in member.items() if entry is not None
            }
        elif kind == "L" and type(member) is list:
            out[kind] = [None if entry is None else _wire_value(entry) for entry in member]
        elif kind in _STRING_SETS and type(member) is list:
            out[kind] = [_string(entry) for entry in member]
        else:  # B, BS (base64), or a shape this does not know
            raise _NotWireShaped
    return out


def _fast_attribute_values(original: Any) -> Any:
    """``BaseJSONSerializer._serialize_type_structure`` writing DynamoDB's
    ``AttributeValue`` members with :func:`_wire_value` (the original otherwise)."""

    def serialize_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if (
            key
            and shape.name == "AttributeValue"
            and self.operation_model.service_model.service_name == "dynamodb"
        ):
            try:
                serialized[self.get_serialized_name(shape, key)] = _wire_value(value)
                return
            except _NotWireShaped:
                pass
        original(self, serialized, value, shape, key)

    return serialize_structure


def install() -> None:
    """Apply the changes above to moto's classes. Idempotent; process-wide.

    Raises:
        moto_internals.MotoInternalsMissing: a name this replaces or relies on
            (:data:`MOTO_NAMES`) is not where moto 5.2 has it; nothing is changed.
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
                validators.DepthFirstTraverser,
                "traverse_node_recursively",
                _traverse_node_recursively,
            ),
            (
                dynamodb_models.UpdateExpressionParser,
                "make",
                _parse_cache(dynamodb_models.UpdateExpressionParser),
            ),
        ]
        node = ast_nodes.Node  # type: ignore[attr-defined]
        replacements.append((node, "find_clauses", _find_clauses_of_cached_trees))
        replacements.append((dynamo_type_module.DynamoType, "size", _size))
        condition_parser = comparisons.ConditionExpressionParser
        replacements.append(
            (condition_parser, "parse", _parse_once_per_request(condition_parser.parse))
        )
        json_serializer = serialize.BaseJSONSerializer
        replacements.append(
            (
                json_serializer,
                "_serialize_type_structure",
                _fast_attribute_values(json_serializer._serialize_type_structure),
            )
        )
        for cls, name, replacement in replacements:
            _installed[f"{cls.__name__}.{name}"] = cls.__dict__.get(name)
            setattr(cls, name, replacement)
        _installed["validators.deepcopy"] = validators.deepcopy
        validators.deepcopy = _copy_tree  # type: ignore[assignment]


def installed() -> bool:
    """Whether :func:`install` ran in this process."""
    return bool(_installed)
