"""A scheme as ONE tree document, validated as a whole (PRODUCT.md §4.1-4.2, inventory A §4.4.2.1).

Shaped like a Kazoo callflow: steps in order, and a menu step holds ``children`` keyed by the
outcome (the digits pressed) plus ``rules`` keyed by the processing rule. The engine only walks
the tree::

    {name, name_norm, description,
     blocks: [{schedule_id, steps: [...]}, ..., {schedule_id: None, steps: [...]}]}

The last block is "at any other time" (no schedule); earlier blocks name a schedule (``None``
while not chosen yet: such a block never matches). Steps (each has an ``id`` and a ``kind``):

- ``greeting``  ``{sound_id, wait_end}``
- ``menu``      ``{children: {"<digits>": {password, steps}}, rules: {<rule>: {...}}}``; rules:
  ``disa`` {min_length, max_length} (the caller dials an extension), ``fax_detect`` {emails},
  ``no_input`` {timeout, steps}, ``other_input`` {steps}, ``wrong_input`` {count, steps},
  ``wrong_password`` {count, steps}. Defaults: timeout 5 s, counts 3. Every rule also has
  ``schedule_id`` (A §4.4.2.1 "a processing rule with its own time period"): ``None`` = the rule
  applies at any time, else the rule applies only while that schedule is in effect.
- ``forward``   ``{target: {type: group|employee|external|trunk|extension, id | value, method},
  ring_time, queue: {enabled, max_wait} | None}`` (queue override only for groups; target
  ``None`` = "not set yet", skipped at run time)
- ``voicemail`` ``{emails}``; ``fax`` ``{emails}`` (none = the PBX default fax address)
- ``return_to_main`` (only as the last step of a nested block), ``hangup`` (the last step of a
  top-level block; fixed: a block without it is refused, nothing may follow it).

Levels: a menu in a time block is level 1, a menu inside one of its items level 2 … at most 4
(``scheme.menu_depth``); a level-4 menu may not have processing rules (A: "allowed in every
block except level-4 IVR"). A nested block (menu item, rule) ends with ``hangup`` or
``return_to_main``; an empty nested block becomes ``[hangup]``.
"""
from __future__ import annotations

import copy
import re
from typing import Any, Iterable, Iterator, Mapping

from esl_control.model.common import (clean_bool, clean_choice, clean_emails, clean_extension, clean_id,
                                      clean_int, clean_list, clean_mapping, clean_name, clean_text,
                                      dial_lengths_ok, new_id, norm_name)
from esl_control.model.employees.schemas import clean_ring_time
from esl_control.model.references import referrer
from esl_control.routing.errors import RuleError
from esl_control.routing.numbers import parse_destination

MAX_MENU_LEVEL = 4
MAX_STEPS = 500
MAX_BLOCKS = 20
STEP_KINDS = ("greeting", "menu", "forward", "voicemail", "fax", "return_to_main", "hangup")
FINAL_KINDS = ("hangup", "return_to_main")
RULE_KINDS = ("disa", "fax_detect", "no_input", "other_input", "wrong_input", "wrong_password")
TARGET_TYPES = ("group", "employee", "external", "trunk", "extension")
_DIGITS = re.compile(r"\d{1,4}", re.ASCII)
_PASSWORD = re.compile(r"\d{1,10}", re.ASCII)


class _Counter:
    def __init__(self):
        self.n = 0

    def tick(self, where: str) -> None:
        self.n += 1
        if self.n > MAX_STEPS:
            raise RuleError("scheme.too_big", field=where, max=MAX_STEPS)


def clean_scheme(data: Mapping[str, Any]) -> dict:
    data = clean_mapping(data, "body", optional=False)
    name = clean_name(data.get("name"))
    raw_blocks = clean_list(data.get("blocks"), "blocks")
    if not raw_blocks:
        raw_blocks = [{"schedule_id": None, "steps": [{"kind": "hangup"}]}]
    if len(raw_blocks) > MAX_BLOCKS:
        raise RuleError("value.range", field="blocks", min=1, max=MAX_BLOCKS)
    counter = _Counter()
    blocks = []
    for i, b in enumerate(raw_blocks):
        where = f"blocks[{i}]"
        b = clean_mapping(b, where, optional=False)
        schedule_id = clean_id(b.get("schedule_id"), f"{where}.schedule_id", optional=True)
        if i == len(raw_blocks) - 1 and schedule_id is not None:
            raise RuleError("scheme.last_block_schedule", field=f"{where}.schedule_id")
        blocks.append({"schedule_id": schedule_id,
                       "steps": clean_steps(b.get("steps"), f"{where}.steps", level=0, nested=False,
                                            disa=False, counter=counter)})
    return {"name": name, "name_norm": norm_name(name),
            "description": clean_text(data.get("description"), "description", 500), "blocks": blocks}


def clean_steps(raw: Any, where: str, *, level: int, nested: bool, disa: bool, counter: _Counter) -> list[dict]:
    items = clean_list(raw, where)
    if not items and nested:
        items = [{"kind": "hangup"}]
    steps = []
    for i, item in enumerate(items):
        step = clean_step(item, f"{where}[{i}]", level=level, nested=nested, disa=disa, counter=counter)
        if step["kind"] in FINAL_KINDS and i != len(items) - 1:
            raise RuleError("scheme.step_after_final", field=f"{where}[{i + 1}]")
        steps.append(step)
    if not steps or steps[-1]["kind"] not in FINAL_KINDS:
        raise RuleError("scheme.final_hangup", field=where)
    return steps


def _target(raw: Any, where: str, disa: bool) -> dict | None:
    if raw is None:
        return None
    t = clean_mapping(raw, where, optional=False)
    kind = clean_choice(t.get("type"), f"{where}.type", TARGET_TYPES)
    if disa and kind != "extension":
        raise RuleError("scheme.disa_target", field=f"{where}.type")
    if kind in ("group", "trunk"):
        return {"type": kind, "id": clean_id(t.get("id"), f"{where}.id")}
    if kind == "employee":
        return {"type": kind, "id": clean_id(t.get("id"), f"{where}.id"),
                "method": clean_id(t.get("method"), f"{where}.method", optional=True) or "card"}
    if kind == "external":
        try:
            value = parse_destination(str(t.get("value") or "")).value
        except RuleError as exc:
            raise exc.for_field(f"{where}.value")
        return {"type": kind, "value": value}
    return {"type": kind, "value": clean_extension(t.get("value"), f"{where}.value")}


def clean_step(raw: Any, where: str, *, level: int, nested: bool, disa: bool, counter: _Counter) -> dict:
    counter.tick(where)
    s = clean_mapping(raw, where, optional=False)
    kind = clean_choice(s.get("kind"), f"{where}.kind", STEP_KINDS)
    step: dict[str, Any] = {"id": clean_id(s.get("id"), f"{where}.id", optional=True) or new_id(), "kind": kind}
    if kind == "greeting":
        step["sound_id"] = clean_id(s.get("sound_id"), f"{where}.sound_id", optional=True)
        step["wait_end"] = clean_bool(s.get("wait_end"), f"{where}.wait_end", default=False)
    elif kind == "forward":
        target = _target(s.get("target"), f"{where}.target", disa)
        step["target"] = target
        step["ring_time"] = clean_ring_time(s.get("ring_time"), f"{where}.ring_time")
        queue = s.get("queue")
        if queue is not None:
            if not target or target["type"] != "group":
                raise RuleError("scheme.queue_override", field=f"{where}.queue")
            q = clean_mapping(queue, f"{where}.queue", optional=False)
            queue = {"enabled": clean_bool(q.get("enabled"), f"{where}.queue.enabled", default=True),
                     "max_wait": clean_int(q.get("max_wait"), f"{where}.queue.max_wait", 0, 86400, default=600)}
        step["queue"] = queue
    elif kind in ("voicemail", "fax"):
        step["emails"] = clean_emails(s.get("emails"), f"{where}.emails")
    elif kind == "return_to_main":
        if not nested:
            raise RuleError("scheme.return_top", field=where)
    elif kind == "menu":
        step.update(_menu(s, where, level=level + 1, disa=disa, counter=counter))
    return step


def _menu(s: Mapping[str, Any], where: str, *, level: int, disa: bool, counter: _Counter) -> dict:
    if level > MAX_MENU_LEVEL:
        raise RuleError("scheme.menu_depth", field=where, max=MAX_MENU_LEVEL)
    raw_children = s.get("children")
    if isinstance(raw_children, list):  # also accept [{digits, password, steps}]
        raw_children = {str(c.get("digits") if isinstance(c, Mapping) else ""): c for c in raw_children}
    children_in = clean_mapping(raw_children, f"{where}.children")
    if not children_in:
        raise RuleError("scheme.menu_empty", field=f"{where}.children")
    children = {}
    for digits, item in children_in.items():
        cw = f"{where}.children.{digits}"
        if not _DIGITS.fullmatch(str(digits)):
            raise RuleError("scheme.menu_digits", field=cw, value=digits)
        item = clean_mapping(item, cw, optional=False)
        password = item.get("password")
        if password in (None, ""):
            password = None
        elif not isinstance(password, str) or not _PASSWORD.fullmatch(password):
            raise RuleError("scheme.password", field=f"{cw}.password")
        children[str(digits)] = {"password": password,
                                 "steps": clean_steps(item.get("steps"), f"{cw}.steps", level=level, nested=True,
                                                      disa=disa, counter=counter)}
    rules_in = clean_mapping(s.get("rules"), f"{where}.rules")
    if rules_in and level >= MAX_MENU_LEVEL:
        raise RuleError("scheme.rules_level", field=f"{where}.rules", level=level)
    rules = {}
    for kind, body in rules_in.items():
        rw = f"{where}.rules.{kind}"
        clean_choice(kind, rw, RULE_KINDS)
        body = clean_mapping(body, rw)
        rules[kind] = _rule(kind, body, rw, level=level, counter=counter)
        rules[kind]["schedule_id"] = clean_id(body.get("schedule_id"), f"{rw}.schedule_id", optional=True)
    return {"children": children, "rules": rules}


def _rule(kind: str, body: Mapping[str, Any], rw: str, *, level: int, counter: "_Counter") -> dict:
    """The fields of one processing rule of a menu (its ``schedule_id`` is added by :func:`_menu`)."""
    if kind == "disa":
        lo = clean_int(body.get("min_length"), f"{rw}.min_length", 0, 99, default=2)
        hi = clean_int(body.get("max_length"), f"{rw}.max_length", 0, 99, default=5)
        if not dial_lengths_ok(lo, hi):
            raise RuleError("scheme.disa_lengths", field=rw)
        return {"min_length": lo, "max_length": hi}
    if kind == "fax_detect":
        return {"emails": clean_emails(body.get("emails"), f"{rw}.emails")}
    rule: dict[str, Any] = {}
    if kind == "no_input":
        rule["timeout"] = clean_int(body.get("timeout"), f"{rw}.timeout", 1, 60, default=5)
    if kind in ("wrong_input", "wrong_password"):
        rule["count"] = clean_int(body.get("count"), f"{rw}.count", 1, 10, default=3)
    rule["steps"] = clean_steps(body.get("steps"), f"{rw}.steps", level=level, nested=True,
                                disa=False, counter=counter)
    return rule


def walk(steps: Iterable[dict]) -> Iterator[dict]:
    """Every step of a step list, depth first (menus' children and rules included)."""
    for step in steps:
        yield step
        if step["kind"] == "menu":
            for child in step.get("children", {}).values():
                yield from walk(child["steps"])
            for rule in step.get("rules", {}).values():
                yield from walk(rule.get("steps", ()))


def all_steps(doc: Mapping[str, Any]) -> Iterator[dict]:
    for block in doc.get("blocks", ()):
        yield from walk(block["steps"])


@referrer("scheme")
def refs_of_scheme(doc: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    for i, block in enumerate(doc.get("blocks", ())):
        if block.get("schedule_id"):
            yield ("schedule", block["schedule_id"], f"blocks[{i}].schedule_id")
    for step in all_steps(doc):
        if step["kind"] == "menu":
            for kind, rule in (step.get("rules") or {}).items():
                if rule.get("schedule_id"):  # a processing rule's own time period
                    yield ("schedule", rule["schedule_id"], f"rules.{kind}.schedule_id")
        if step["kind"] == "greeting" and step.get("sound_id"):
            yield ("sound", step["sound_id"], "greeting")
        elif step["kind"] == "forward" and step.get("target") and step["target"]["type"] in ("group", "employee", "trunk"):
            yield (step["target"]["type"], step["target"]["id"], "forward")
        elif step["kind"] == "forward" and step.get("target") and step["target"]["type"] == "extension":
            yield ("extension", step["target"]["value"], "forward")


def skeleton(doc: Mapping[str, Any]) -> dict:
    """A copy keeping every call-handling item but clearing what points into the PBX
    (inventory A §4.4.1.3: a number moved to another PBX takes its scheme "with all call-handling
    items kept but fields cleared"): schedules, greetings' sounds, forward targets, e-mails,
    menu passwords."""
    out = copy.deepcopy({k: doc[k] for k in ("name", "name_norm", "description", "blocks")})
    for block in out["blocks"]:
        block["schedule_id"] = None
        for step in walk(block["steps"]):
            step["id"] = new_id()
            if step["kind"] == "greeting":
                step["sound_id"] = None
            elif step["kind"] == "forward":
                step["target"] = None
                step["queue"] = None
            elif step["kind"] in ("voicemail", "fax"):
                step["emails"] = []
            elif step["kind"] == "menu":
                for child in step["children"].values():
                    child["password"] = None
                if "fax_detect" in step.get("rules", {}):
                    step["rules"]["fax_detect"]["emails"] = []
                for rule in step.get("rules", {}).values():
                    rule["schedule_id"] = None
    return out
