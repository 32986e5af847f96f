"""Trunk number masks and number transformations.

Source: PRODUCT.md §4.5 (which settles inventory D §5.3.3.1-5.3.3.2 and its appendix item 1).

Mask grammar (the whole dialled number must match, groups are numbered from the left by their
opening bracket, as in regular expressions)::

    mask     := branch ('|' branch)*          -- '|' alternatives, top level or inside ( )
    branch   := item+
    item     := atom quantifier?  |  '(' mask ')'  |  range
    atom     := digit  |  '\\d'  |  class
    class    := '[' (digit | digit '-' digit)+ ']'      -- e.g. [0-9], [1-3], [135], [0-35-9]
    range    := '[' number '-' number ']'               -- a bound of 2+ digits: numeric range
    quantifier := '*' | '+' | '{' n '}'                 -- zero or more, one or more, exactly n

``[100-500]`` is the numeric range 100..500 (inventory D §5.3.3, Example 5: in a real regular
expression it would be the one-digit class {0,1,2,3,4,5}; PRODUCT.md decides for the range).
Its numbers are written without leading zeros, so ``[1-500]`` matches "1".."500" but not "007";
bounds with a leading zero must have the same length and match zero-padded numbers
(``[001-050]`` matches "001".."050"). A class with single-digit bounds stays a digit class:
``[1-3]`` is one digit 1, 2 or 3, which keeps example 3 ``([1-3][0-4][0-9]|350)`` meaning what
its text says literally (see the erratum note in the tests).

Everything else a regular expression knows (``.``, ``?``, ``^``, ``$``, ``{n,m}``, ``\\w``, ``(?:``,
``[^...]``, letters, a quantifier after a group, ...) is refused with a :class:`RuleError` naming
the offending part and its position.

Matching never backtracks: a validated mask compiles to a tiny program; whether a number matches
is answered by a lazily built DFA (a dict lookup per digit once warm), and the groups of a matching
number by a Pike VM (Thompson simulation with capture slots, as in RE2). Both are linear in
``len(number) x len(mask)`` whatever the mask, and the captured groups are those a backtracking
regex engine would give (leftmost-first, greedy). :attr:`CompiledMask.regex` also gives the equivalent Python pattern for
display and cross-checking; the call path does not use it.

Transformation syntax: ``$n`` inserts group *n* (all following digits form the group number, so
``$177`` is group 177); a ``\\`` right after the number ends it and is dropped (``+33$1\\77``);
digits are copied; a ``+`` may lead the result. A ``$n`` the mask cannot capture is refused at
save; a group that took no part in the match (the ``350`` branch of ``350|7(\\d{8})``) inserts no
digits at run time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable

from esl_control.routing.errors import RuleError

MAX_MASK_LENGTH = 200
"""Longest accepted mask text; masks are typed by hand, 200 characters is generous."""
MAX_REPEAT = 32
"""Largest ``n`` in ``\\d{n}`` (no dialled number is longer than this)."""
MAX_RANGE_DIGITS = 15
"""Longest bound of a numeric range ``[a-b]`` (E.164 maximum)."""
MAX_TRANSFORMATION_LENGTH = 100
MAX_NUMBER_LENGTH = 64
"""Dialled numbers longer than this never match (they are not phone numbers)."""

_ALL_DIGITS = 0b1111111111

# ---------------------------------------------------------------------------------------------
# Parse tree


@dataclass(frozen=True)
class _Chars:
    """One digit from a set (bit i set = digit i allowed), optionally repeated."""

    bits: int
    quant: str = ""        # "", "*", "+"
    repeat: int = 1         # for "{n}"
    text: str = ""          # canonical regex text of the atom, e.g. "7", "[0-9]", "[1-3]"


@dataclass(frozen=True)
class _Range:
    """Numeric range [lo-hi]: alternatives of fixed-length digit-set sequences."""

    lo: str
    hi: str
    sequences: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class _Group:
    index: int
    body: "_Alt"


@dataclass(frozen=True)
class _Alt:
    branches: tuple[tuple[object, ...], ...]


# ---------------------------------------------------------------------------------------------
# Numeric range expansion


def _same_length_range(lo: str, hi: str) -> list[tuple[int, ...]]:
    """Cover lo..hi (same length, lo <= hi) with sequences of per-position digit bitmasks."""
    if len(lo) == 1:
        return [(_bits(int(lo), int(hi)),)]
    first_lo, first_hi = int(lo[0]), int(hi[0])
    rest = len(lo) - 1
    if first_lo == first_hi:
        return [(_bits(first_lo, first_lo),) + seq for seq in _same_length_range(lo[1:], hi[1:])]
    out: list[tuple[int, ...]] = []
    full_from, full_to = first_lo, first_hi
    if lo[1:] != "0" * rest:
        out += [(_bits(first_lo, first_lo),) + seq for seq in _same_length_range(lo[1:], "9" * rest)]
        full_from += 1
    tail: list[tuple[int, ...]] = []
    if hi[1:] != "9" * rest:
        tail = [(_bits(first_hi, first_hi),) + seq for seq in _same_length_range("0" * rest, hi[1:])]
        full_to -= 1
    if full_from <= full_to:
        out.append((_bits(full_from, full_to),) + (_ALL_DIGITS,) * rest)
    return out + tail


def _bits(lo: int, hi: int) -> int:
    return sum(1 << d for d in range(lo, hi + 1))


def _numeric_range(lo: str, hi: str, source: str, pos: int) -> _Range:
    part = f"[{lo}-{hi}]"
    if len(lo) > MAX_RANGE_DIGITS or len(hi) > MAX_RANGE_DIGITS:
        raise RuleError("mask.range_too_long", part=part, position=pos, max=MAX_RANGE_DIGITS)
    padded = (len(lo) > 1 and lo[0] == "0") or (len(hi) > 1 and hi[0] == "0")
    if padded and len(lo) != len(hi):
        raise RuleError("mask.range_leading_zero", part=part, position=pos)
    if int(lo) > int(hi):
        raise RuleError("mask.range_reversed", part=part, position=pos)
    sequences: list[tuple[int, ...]] = []
    if padded:
        sequences = _same_length_range(lo, hi)
    else:
        # Split by length: lo..99..9, 10..0..99..9, ..., 10..0..hi; no leading zeros.
        for length in range(len(lo), len(hi) + 1):
            a = lo if length == len(lo) else "1" + "0" * (length - 1)
            b = hi if length == len(hi) else "9" * length
            if length > 1 and a[0] == "0":  # lo == "0" only reaches here with length 1
                a = "1" + "0" * (length - 1)
            if int(a) <= int(b):
                sequences += _same_length_range(a, b)
    return _Range(lo, hi, tuple(sequences))


# ---------------------------------------------------------------------------------------------
# Parser


class _Parser:
    """Recursive-descent parser of the mask grammar; every refusal names the part and position."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.groups = 0

    def fail(self, code: str, part: str | None = None, pos: int | None = None, **params) -> RuleError:
        pos = self.pos if pos is None else pos
        if part is None:
            part = self.text[pos:pos + 1] or "end of mask"
        return RuleError(code, part=part, position=pos + 1, **params)

    def peek(self) -> str:
        return self.text[self.pos:self.pos + 1]

    def parse(self) -> _Alt:
        alt = self.alternation()
        if self.pos < len(self.text):
            ch = self.peek()
            if ch == ")":
                raise self.fail("mask.unbalanced_close")
            raise self.unsupported()
        return alt

    def alternation(self) -> _Alt:
        branches = [self.branch()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.branch())
        return _Alt(tuple(branches))

    def branch(self) -> tuple[object, ...]:
        start = self.pos
        items: list[object] = []
        while self.pos < len(self.text) and self.peek() not in "|)":
            items.append(self.item())
        if not items:
            raise self.fail("mask.empty_alternative", part=self.text[max(0, start - 1):start + 1] or "|",
                            pos=max(0, start - 1))
        return tuple(items)

    def item(self) -> object:
        ch = self.peek()
        start = self.pos
        if ch == "(":
            if self.text.startswith("(?", self.pos):
                raise self.fail("mask.unsupported", part="(?")
            self.pos += 1
            self.groups += 1
            index = self.groups
            if self.peek() == ")":
                raise self.fail("mask.empty_group", part="()", pos=start)
            body = self.alternation()
            if self.peek() != ")":
                raise self.fail("mask.unbalanced_open", part="(", pos=start)
            self.pos += 1
            self.no_quantifier(start)
            return _Group(index, body)
        if ch == "[":
            node = self.bracket()
            if isinstance(node, _Range):
                self.no_quantifier(start)
                return node
            return self.quantified(node)
        if ch.isdigit() and ch.isascii():
            self.pos += 1
            return self.quantified(_Chars(1 << int(ch), text=ch))
        if ch == "\\":
            nxt = self.text[self.pos + 1:self.pos + 2]
            if nxt == "d":
                self.pos += 2
                return self.quantified(_Chars(_ALL_DIGITS, text=r"\d"))
            raise self.fail("mask.unsupported", part=self.text[self.pos:self.pos + 2])
        if ch in "*+{":
            raise self.fail("mask.quantifier_without_target")
        raise self.unsupported()

    def unsupported(self) -> RuleError:
        ch = self.peek()
        if ch == "]":
            return self.fail("mask.unbalanced_bracket")
        return self.fail("mask.unsupported")

    def no_quantifier(self, start: int) -> None:
        ch = self.peek()
        if ch and ch in "*+{?":
            raise self.fail("mask.quantifier_target", part=self.text[start:self.pos + 1])

    def quantified(self, atom: _Chars) -> _Chars:
        ch = self.peek()
        if ch in ("*", "+"):
            self.pos += 1
            node = _Chars(atom.bits, quant=ch, text=atom.text)
        elif ch == "{":
            m = re.compile(r"\{(\d+)\}").match(self.text, self.pos)
            if not m:
                end = self.text.find("}", self.pos)
                part = self.text[self.pos:end + 1] if end >= 0 else self.text[self.pos:]
                raise self.fail("mask.bad_repeat", part=part)
            n = int(m.group(1))
            if not 1 <= n <= MAX_REPEAT:
                raise self.fail("mask.repeat_range", part=m.group(0), max=MAX_REPEAT)
            self.pos = m.end()
            node = _Chars(atom.bits, repeat=n, text=atom.text)
        else:
            return atom
        if self.peek() and self.peek() in "*+{?":
            raise self.fail("mask.unsupported")
        return node

    def bracket(self) -> object:
        start = self.pos
        end = self.text.find("]", start)
        if end < 0:
            raise self.fail("mask.unbalanced_bracket", part="[")
        inner = self.text[start + 1:end]
        part = self.text[start:end + 1]
        if not inner:
            raise self.fail("mask.bad_class", part=part)
        if inner[0] == "^":
            raise self.fail("mask.unsupported", part="[^", pos=start)
        m = re.fullmatch(r"(\d+)-(\d+)", inner, flags=re.ASCII)
        if m and (len(m.group(1)) > 1 or len(m.group(2)) > 1):
            self.pos = end + 1
            return _numeric_range(m.group(1), m.group(2), self.text, start + 1)
        bits = 0
        i = 0
        while i < len(inner):
            c = inner[i]
            if not (c.isascii() and c.isdigit()):
                raise self.fail("mask.bad_class", part=part, pos=start)
            if inner[i + 1:i + 2] == "-":
                hi = inner[i + 2:i + 3]
                if not (hi.isascii() and hi.isdigit()):
                    raise self.fail("mask.bad_class", part=part, pos=start)
                if int(hi) < int(c):
                    raise self.fail("mask.range_reversed", part=f"{c}-{hi}", pos=start)
                bits |= _bits(int(c), int(hi))
                i += 3
            else:
                bits |= 1 << int(c)
                i += 1
        self.pos = end + 1
        return _Chars(bits, text=_class_text(bits))


def _class_text(bits: int) -> str:
    """Canonical regex class for a digit bitmask, e.g. 0b111 -> '[0-2]'."""
    if bits == _ALL_DIGITS:
        return "[0-9]"
    parts, d = [], 0
    while d < 10:
        if bits >> d & 1:
            e = d
            while e + 1 < 10 and bits >> (e + 1) & 1:
                e += 1
            parts.append(str(d) if d == e else f"{d}-{e}")
            d = e + 1
        else:
            d += 1
    return "[" + "".join(parts) + "]"


# ---------------------------------------------------------------------------------------------
# Compiler to a Pike VM program

_CHAR, _SPLIT, _JMP, _SAVE, _MATCH = range(5)


def _emit_alt(alt: _Alt, prog: list) -> None:
    """Emit a prioritised alternation: SPLIT(first, rest) chains, left branch preferred."""
    jumps = []
    for i, branch in enumerate(alt.branches):
        split_at = None
        if i < len(alt.branches) - 1:
            split_at = len(prog)
            prog.append([_SPLIT, len(prog) + 1, None])
        for item in branch:
            _emit_item(item, prog)
        if i < len(alt.branches) - 1:
            jumps.append(len(prog))
            prog.append([_JMP, None])
            prog[split_at][2] = len(prog)
    for j in jumps:
        prog[j][1] = len(prog)


def _emit_item(item: object, prog: list) -> None:
    if isinstance(item, _Chars):
        if item.quant == "*":
            loop = len(prog)
            prog.append([_SPLIT, loop + 1, loop + 3])   # greedy: prefer another digit
            prog.append([_CHAR, item.bits])
            prog.append([_JMP, loop])
        elif item.quant == "+":
            loop = len(prog)
            prog.append([_CHAR, item.bits])
            prog.append([_SPLIT, loop, loop + 2])
        else:
            for _ in range(item.repeat):
                prog.append([_CHAR, item.bits])
    elif isinstance(item, _Range):
        _emit_alt(_Alt(tuple(tuple(_Chars(b) for b in seq) for seq in item.sequences)), prog)
    elif isinstance(item, _Group):
        prog.append([_SAVE, 2 * item.index])
        _emit_alt(item.body, prog)
        prog.append([_SAVE, 2 * item.index + 1])
    else:  # pragma: no cover - the parser only builds the node types above
        raise TypeError(item)


def _regex_alt(alt: _Alt) -> str:
    return "|".join("".join(_regex_item(i) for i in branch) for branch in alt.branches)


def _regex_item(item: object) -> str:
    if isinstance(item, _Chars):
        text = "[0-9]" if item.text == r"\d" else item.text
        if item.quant:
            return text + item.quant
        return text if item.repeat == 1 else f"{text}{{{item.repeat}}}"
    if isinstance(item, _Range):
        alts = ("".join(_class_text(b) if b & (b - 1) else str(b.bit_length() - 1) for b in seq)
                for seq in item.sequences)
        return "(?:" + "|".join(alts) + ")"
    if isinstance(item, _Group):
        return "(" + _regex_alt(item.body) + ")"
    raise TypeError(item)  # pragma: no cover


@dataclass(frozen=True)
class CompiledMask:
    """A validated mask, ready to match dialled numbers (build it with :func:`compile_mask`)."""

    source: str
    group_count: int
    regex: str
    """Equivalent Python regular expression (use with ``re.fullmatch`` and ``re.ASCII``)."""
    _program: tuple[tuple, ...] = field(repr=False, compare=False)
    _dfa: "_LazyDfa" = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self):
        object.__setattr__(self, "_dfa", _LazyDfa(self._program))

    def match(self, number: str) -> tuple[str | None, ...] | None:
        """Groups captured when the WHOLE ``number`` matches, else ``None``.

        ``groups[0]`` is group 1; a group that took no part in the match is ``None``.
        Only ASCII digits can match; anything else in ``number`` means no match.
        """
        if len(number) > MAX_NUMBER_LENGTH or not self._dfa.matches(number):
            return None
        return _pike(self._program, number, self.group_count)

    def matches(self, number: str) -> bool:
        """Whole-number match without computing groups (a cached DFA walk: one dict lookup a digit)."""
        return len(number) <= MAX_NUMBER_LENGTH and self._dfa.matches(number)


def _closure(prog, pcs: Iterable[int]) -> frozenset[int]:
    """The CHAR/MATCH instructions reachable from ``pcs`` through jumps, splits and saves."""
    out: set[int] = set()
    seen: set[int] = set()
    stack = list(pcs)
    while stack:
        pc = stack.pop()
        if pc in seen:
            continue
        seen.add(pc)
        op = prog[pc]
        if op[0] == _JMP:
            stack.append(op[1])
        elif op[0] == _SPLIT:
            stack.extend((op[1], op[2]))
        elif op[0] == _SAVE:
            stack.append(pc + 1)
        else:
            out.add(pc)
    return frozenset(out)


class _LazyDfa:
    """Match / no match by subset construction done lazily along the inputs actually seen.

    Most masks of a PBX's list do not match a given number; answering that with a few dict
    lookups keeps the route choice fast, and only a matching number pays for the Pike VM run
    that extracts the groups. The transition cache is bounded, so a mask whose DFA would be huge
    just computes the missing steps on the fly (still linear per number).
    """

    MAX_TRANSITIONS = 20000

    def __init__(self, prog):
        self.prog = prog
        self.start = _closure(prog, [0])
        self.trans: dict[tuple[frozenset[int], str], frozenset[int]] = {}
        self.accepting: dict[frozenset[int], bool] = {}

    def matches(self, text: str) -> bool:
        prog, trans = self.prog, self.trans
        state = self.start
        for ch in text:
            key = (state, ch)
            nxt = trans.get(key)
            if nxt is None:
                if not ("0" <= ch <= "9"):
                    return False
                bit = 1 << (ord(ch) - 48)
                nxt = _closure(prog, [pc + 1 for pc in state if prog[pc][0] == _CHAR and prog[pc][1] & bit])
                if len(trans) < self.MAX_TRANSITIONS:
                    trans[key] = nxt
            if not nxt:
                return False
            state = nxt
        accept = self.accepting.get(state)
        if accept is None:
            accept = any(prog[pc][0] == _MATCH for pc in state)
            if len(self.accepting) < self.MAX_TRANSITIONS:
                self.accepting[state] = accept
        return accept


def _add_thread(prog, threads: list, seen: set, pc: int, caps: tuple, pos: int) -> None:
    """Follow jumps, splits and saves from ``pc``; append char/match threads in priority order."""
    stack = [(pc, caps)]
    while stack:
        pc, caps = stack.pop()
        if pc in seen:
            continue
        seen.add(pc)
        op = prog[pc]
        kind = op[0]
        if kind == _JMP:
            stack.append((op[1], caps))
        elif kind == _SPLIT:
            stack.append((op[2], caps))   # lower priority pushed first, popped last
            stack.append((op[1], caps))
        elif kind == _SAVE:
            slot = op[1]
            stack.append((pc + 1, caps[:slot] + (pos,) + caps[slot + 1:]))
        else:
            threads.append((pc, caps))


def _pike(prog, text: str, ngroups: int) -> tuple[str | None, ...] | None:
    threads: list = []
    _add_thread(prog, threads, set(), 0, (None,) * (2 * ngroups + 2), 0)
    for pos, ch in enumerate(text):
        if not ("0" <= ch <= "9"):
            return None
        bit = 1 << (ord(ch) - 48)
        nxt: list = []
        seen: set = set()
        for pc, caps in threads:
            op = prog[pc]
            if op[0] == _CHAR and op[1] & bit:
                _add_thread(prog, nxt, seen, pc + 1, caps, pos + 1)
        threads = nxt
        if not threads:
            return None
    for pc, caps in threads:   # first MATCH in priority order = what a backtracking engine finds
        if prog[pc][0] == _MATCH:
            groups = []
            for g in range(1, ngroups + 1):
                s, e = caps[2 * g], caps[2 * g + 1]
                groups.append(None if s is None or e is None else text[s:e])
            return tuple(groups)
    return None


@lru_cache(maxsize=4096)
def compile_mask(mask: str) -> CompiledMask:
    """Validate ``mask`` against the grammar above and compile it.

    Raises :class:`RuleError` (``mask.*`` codes) naming the offending part and its 1-based position.
    Surrounding whitespace is ignored; whitespace inside is refused.
    """
    if not isinstance(mask, str):
        raise RuleError("mask.empty")
    text = mask.strip()
    if not text:
        raise RuleError("mask.empty")
    if len(text) > MAX_MASK_LENGTH:
        raise RuleError("mask.too_long", max=MAX_MASK_LENGTH)
    parser = _Parser(text)
    tree = parser.parse()
    prog: list = []
    _emit_alt(tree, prog)
    prog.append([_MATCH])
    return CompiledMask(source=text, group_count=parser.groups, regex=_regex_alt(tree),
                        _program=tuple(tuple(op) for op in prog))


# ---------------------------------------------------------------------------------------------
# Transformations


@dataclass(frozen=True)
class Transformation:
    """A validated transformation: literal text and group references, in order."""

    source: str
    parts: tuple[str | int, ...]
    """``str`` parts are copied, ``int`` parts insert that group."""

    @property
    def max_group(self) -> int:
        return max((p for p in self.parts if isinstance(p, int)), default=0)

    def apply(self, groups: tuple[str | None, ...]) -> str:
        """Build the number to dial from a mask's captured ``groups`` (group 1 first).

        A group that took no part in the match inserts nothing (PRODUCT.md §4.5).
        """
        out = []
        for p in self.parts:
            if isinstance(p, int):
                out.append((groups[p - 1] if p <= len(groups) else None) or "")
            else:
                out.append(p)
        return "".join(out)


@lru_cache(maxsize=4096)
def compile_transformation(text: str) -> Transformation:
    """Parse a transformation (``$n``, ``\\`` after a group number, digits, a leading ``+``).

    Raises :class:`RuleError` (``transformation.*``) naming the offending part and its position.
    """
    src = (text or "").strip()
    if not src:
        raise RuleError("transformation.empty")
    if len(src) > MAX_TRANSFORMATION_LENGTH:
        raise RuleError("transformation.too_long", max=MAX_TRANSFORMATION_LENGTH)
    parts: list[str | int] = []
    literal = ""
    i = 0
    while i < len(src):
        ch = src[i]
        if ch == "$":
            j = i + 1
            while j < len(src) and src[j].isascii() and src[j].isdigit():
                j += 1
            if j == i + 1:
                raise RuleError("transformation.dollar_without_group", part=src[i:i + 2] or "$",
                                position=i + 1)
            n = int(src[i + 1:j])
            if n == 0:
                raise RuleError("transformation.group_zero", part=src[i:j], position=i + 1)
            if literal:
                parts.append(literal)
                literal = ""
            parts.append(n)
            if src[j:j + 1] == "\\":
                j += 1   # the separator ends the group number and is dropped
            i = j
        elif ch.isascii() and ch.isdigit():
            literal += ch
            i += 1
        elif ch == "+":
            if i != 0:
                raise RuleError("transformation.plus_position", part="+", position=i + 1)
            literal += ch
            i += 1
        elif ch == "\\":
            raise RuleError("transformation.stray_backslash", part="\\", position=i + 1)
        else:
            raise RuleError("transformation.unsupported", part=ch, position=i + 1)
    if literal:
        parts.append(literal)
    return Transformation(source=src, parts=tuple(parts))


@dataclass(frozen=True)
class MaskRule:
    """A validated (mask, transformation) pair of a trunk's routing tab."""

    mask: CompiledMask
    transformation: Transformation

    def rewrite(self, number: str) -> str | None:
        """The transformed number when ``number`` matches the mask, else ``None``.

        The result may be empty when the transformation only inserts a group that did not take
        part in the match; the caller decides what an empty number means (the route choice
        refuses the call with a clear reason).
        """
        groups = self.mask.match(number)
        if groups is None:
            return None
        return self.transformation.apply(groups)


def validate_mask_rule(mask: str, transformation: str) -> MaskRule:
    """Validate a routing-tab row as the cabinet saves it (inventory D §5.3.3).

    - The mask must follow the grammar; "if the mask is filled the transformation cannot be
      empty" (D §5.3.3) -> ``transformation.required``.
    - Every ``$n`` must be a group the mask has -> ``transformation.group_missing``.

    Field errors carry ``field="mask"`` or ``field="transformation"``.
    """
    try:
        compiled = compile_mask(mask)
    except RuleError as exc:
        raise exc.for_field("mask")
    if not (transformation or "").strip():
        raise RuleError("transformation.required", field="transformation")
    try:
        trans = compile_transformation(transformation)
    except RuleError as exc:
        raise exc.for_field("transformation")
    for p in trans.parts:
        if isinstance(p, int) and p > compiled.group_count:
            raise RuleError("transformation.group_missing", field="transformation", group=p,
                            groups=compiled.group_count)
    return MaskRule(compiled, trans)


def rewrite(mask: str, transformation: str, number: str) -> str | None:
    """Convenience: validate the pair and apply it to ``number`` (``None`` when no match)."""
    return validate_mask_rule(mask, transformation).rewrite(number)
