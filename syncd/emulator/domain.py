"""Odoo domains: parse prefix notation, compile to a row predicate, expose index bounds.

Semantics follow odoo/osv/expression.py (17.0): `&`/`|` take two terms, `!` one, consecutive
terms are ANDed; `!=`, `not in`, `not like` and `not ilike` also match NULL; `= False` matches
NULL; like/ilike wrap the value in `%`; a string compared to a many2one is a name search; a
dotted path goes through the relation; child_of/parent_of include the given records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from syncd.emulator.faults import bad_argument, value_error
from syncd.emulator.literals import Comparison, datetime_comparisons
from syncd.emulator.models import Field, Model
from syncd.emulator.predicates import leaf_test

Row = dict[str, Any]
Test = Callable[[Row], bool]
OPERATORS = frozenset({"=", "!=", "<>", "<=", "<", ">", ">=", "=?", "=like", "=ilike", "like",
                       "not like", "ilike", "not ilike", "in", "not in", "child_of", "parent_of",
                       "any", "not any"})
NEGATIONS = {"!=": "=", "not like": "like", "not ilike": "ilike", "not in": "in"}
Node = tuple[Any, ...]  # ("leaf", leaf) | ("and"|"or", [nodes]) | ("not", node)


class Resolver(Protocol):
    """What compiling needs from the committed data (records.View implements it)."""

    version: int

    def schema(self, model: str) -> Model: ...
    def value(self, model: Model, row: Row, name: str) -> Any: ...
    def search_ids(self, model: str, domain: list[Any], active_test: bool) -> set[int]: ...
    def name_search_ids(self, model: str, operator: str, right: Any,
                        active_test: bool) -> set[int]: ...
    def hierarchy(self, model: str, ids: set[int], operator: str) -> set[int]: ...


def _is_leaf(item: Any) -> bool:
    return isinstance(item, (list, tuple)) and len(item) == 3


def parse(domain: Any) -> Node | None:
    """The domain's tree, or None for an empty domain; malformed input is a 422 fault."""
    if not isinstance(domain, (list, tuple)):
        raise bad_argument(f"Invalid domain: {domain!r}")
    stack: list[Node] = []
    for item in reversed(domain):
        if item in ("&", "|"):
            if len(stack) < 2:
                raise bad_argument(f"Domain {list(domain)!r} is syntactically not correct.")
            first, second = stack.pop(), stack.pop()
            stack.append(("and" if item == "&" else "or", [first, second]))
        elif item == "!":
            if not stack:
                raise bad_argument(f"Domain {list(domain)!r} is syntactically not correct.")
            stack.append(("not", stack.pop()))
        elif _is_leaf(item) and isinstance(item[1], str) and item[1].lower() in OPERATORS:
            stack.append(("leaf", tuple(item)))
        else:
            raise bad_argument(f"Invalid leaf {tuple(item) if _is_leaf(item) else item!r}")
    if not stack:
        return None
    stack.reverse()
    return stack[0] if len(stack) == 1 else ("and", stack)


def mentions(domain: list[Any], name: str) -> bool:
    """Whether any leaf of the (flat) domain has `name` on its left: Odoo's active_test rule."""
    return any(_is_leaf(item) and item[0] == name for item in domain)


@dataclass
class Compiled:
    """A domain ready to run: the predicate and the bounds its top-level leaves put on the
    indexed columns (`id`, `write_date`), which the planner uses to narrow candidates."""

    test: Test
    bounds: dict[str, list[Comparison]] = field(default_factory=dict)
    id_sets: list[set[int]] = field(default_factory=list)
    # The predicate without the top-level `id` comparisons that `bounds` holds: what is left
    # to test on a row found through the id index within those bounds (a B-tree index scan
    # does not re-test its index condition row by row either).
    residual: Test | None = None

    def within_bounds(self) -> Test:
        """The test for rows already known to lie within `bounds["id"]`."""
        return self.residual if self.residual is not None and not self.id_sets else self.test


def compile_domain(view: Resolver, model: Model, domain: Any, active_test: bool) -> Compiled:
    tree = parse(domain)
    if active_test and model.has_active and not mentions(list(domain), "active"):
        active: Node = ("leaf", ("active", "=", True))
        tree = active if tree is None else ("and", [active, tree])
    if tree is None:
        return Compiled(lambda row: True)
    compiled = Compiled(_compile(view, model, tree, active_test))
    rest: list[Node] = []
    for node in _conjuncts(tree):
        if node[0] == "leaf":
            _collect_bounds(view, node[1], compiled)
        if not _id_bound(node):
            rest.append(node)
    if not rest:
        compiled.residual = lambda row: True
    elif len(rest) == 1:
        compiled.residual = _compile(view, model, rest[0], active_test)
    else:
        compiled.residual = _compile(view, model, ("and", rest), active_test)
    return compiled


def _id_bound(node: Node) -> bool:
    """A top-level leaf that `_collect_bounds` turns into an id range (the planner applies it)."""
    if node[0] != "leaf":
        return False
    left, operator, right = node[1]
    return left == "id" and str(operator).lower() in ("=", ">", ">=", "<", "<=") \
        and type(right) is int


def _conjuncts(tree: Node) -> list[Node]:
    if tree[0] != "and":
        return [tree]
    return [leaf for child in tree[1] for leaf in _conjuncts(child)]


def _collect_bounds(view: Resolver, leaf: tuple[Any, ...], compiled: Compiled) -> None:
    left, operator, right = leaf[0], str(leaf[1]).lower(), leaf[2]
    if left == "id":
        if operator in ("=", ">", ">=", "<", "<=") and type(right) is int:
            compiled.bounds.setdefault("id", []).append((operator, right))
        elif operator == "in" and isinstance(right, (list, tuple)) \
                and all(type(item) is int for item in right):
            compiled.id_sets.append(set(right))
    elif left == "write_date" and operator in (">", ">=", "<", "<=", "=") and right:
        compiled.bounds.setdefault("write_date", []).extend(
            item for item in datetime_comparisons(operator, right, view.version)
            if item[0] != "outside")


def _compile(view: Resolver, model: Model, node: Node, active_test: bool) -> Test:
    kind = node[0]
    if kind == "leaf":
        return _compile_leaf(view, model, node[1], active_test)
    if kind == "not":
        inner = _compile(view, model, node[1], active_test)
        return lambda row: not inner(row)
    tests = [_compile(view, model, child, active_test) for child in node[1]]
    if kind == "and":
        return lambda row: all(test(row) for test in tests)
    return lambda row: any(test(row) for test in tests)


def _compile_leaf(view: Resolver, model: Model, leaf: tuple[Any, ...], active_test: bool) -> Test:
    left, operator, right = leaf
    operator = str(operator).lower()
    if operator == "<>":
        operator = "!="
    if left in (0, 1) and operator == "=" and right == 1:  # TRUE_LEAF / FALSE_LEAF
        result = left == 1
        return lambda row: result
    if not isinstance(left, str):
        raise bad_argument(f"Invalid leaf {leaf!r}")
    if operator in ("any", "not any") and view.version < 17:
        raise bad_argument(f"Invalid leaf {leaf!r}")
    name, _, rest = left.partition(".")
    item = model.fields.get(name)
    if item is None:
        raise value_error(f"Invalid field {model.name}.{name} in leaf {leaf!r}")
    if rest:
        if item.relation is None:
            raise value_error(f"Invalid field {model.name}.{left} in leaf {leaf!r}")
        operator, right = "any", [(rest, operator, right)]
    if operator in ("=", "!=") and isinstance(right, (list, tuple)) and item.type != "many2many":
        operator = "in" if operator == "=" else "not in"
    if operator == "=?":
        if right is None or right is False:
            return lambda row: True
        operator = "="
    return _relational_or_plain(view, model, item, operator, right, active_test)


def _relational_or_plain(view: Resolver, model: Model, item: Field, operator: str, right: Any,
                         active_test: bool) -> Test:
    getter = _getter(view, model, item.name)
    if operator in ("any", "not any"):
        if item.relation is None:
            raise value_error(f"Invalid field {model.name}.{item.name} in leaf "
                              f"{(item.name, operator, right)!r}")
        sub_active = active_test if item.type != "many2one" else False
        matched = view.search_ids(item.relation, list(right), sub_active)
        test = _member(getter, item, matched)
        return test if operator == "any" else (lambda row: not test(row))
    if operator in ("child_of", "parent_of"):
        target = item.relation or model.name
        ids = _to_ids(view, target, right, active_test)
        related = view.hierarchy(target, ids, operator)
        if item.name == "id" or target == model.name:
            return lambda row: row["id"] in related
        return _member(getter, item, related)
    if item.relation and _names(right) and operator in (
            "=", "!=", "like", "ilike", "not like", "not ilike", "=like", "=ilike", "in",
            "not in"):
        positive = NEGATIONS.get(operator, operator)
        # expression.py: comodel.with_context(active_test=False)._name_search(...)
        found = view.name_search_ids(item.relation, positive, right, False)
        test = _member(getter, item, found)
        return test if positive == operator else (lambda row: not test(row))
    if item.type in ("one2many", "many2many"):
        return _x2many_test(getter, item, operator, right)
    return leaf_test(getter, item, operator, right, view.version)


def _getter(view: Resolver, model: Model, name: str) -> Callable[[Row], Any]:
    if name == "id":
        return lambda row: row["id"]
    return lambda row: view.value(model, row, name)


def _names(right: Any) -> bool:
    if isinstance(right, str):
        return True
    return isinstance(right, (list, tuple)) and bool(right) and all(
        isinstance(item, str) for item in right)


def _to_ids(view: Resolver, model: str, right: Any, active_test: bool) -> set[int]:
    values = right if isinstance(right, (list, tuple)) else [right]
    ids: set[int] = set()
    for value in values:
        if isinstance(value, str):
            ids |= view.name_search_ids(model, "ilike", value, active_test)
        elif type(value) is int:
            ids.add(value)
    return ids


def _member(getter: Callable[[Row], Any], item: Field, ids: set[int]) -> Test:
    if item.type in ("one2many", "many2many"):
        return lambda row: any(value in ids for value in getter(row))
    return lambda row: getter(row) in ids


def _x2many_test(getter: Callable[[Row], Any], item: Field, operator: str, right: Any) -> Test:
    if operator in ("=", "in") and (right is False or right is None or right == [False]):
        return lambda row: not getter(row)
    if operator in ("!=", "not in") and (right is False or right is None or right == [False]):
        return lambda row: bool(getter(row))
    values = set(right) if isinstance(right, (list, tuple)) else {right}
    if operator in ("=", "in"):
        return lambda row: any(value in values for value in getter(row))
    if operator in ("!=", "not in"):
        return lambda row: not any(value in values for value in getter(row))
    raise bad_argument(f"Invalid operator {operator!r} on {item.type} field {item.name!r}")
