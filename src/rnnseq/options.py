"""Declaring an option once: its help, choices, default, group and the tasks it applies to.

A configuration section (the data, model, loss and training options of a run) is a
dataclass whose fields are made with :func:`option`. Everything else follows from
those declarations:

- validation (:func:`check_section`): types and ranges, choices, which tasks an option
  applies to, which other options it needs;
- task-dependent defaults (:class:`Per`): a field left at ``None`` takes the value
  for its task (or for another option's value) when the config is resolved;
- the command line (:func:`add_arguments`): one flag per field, with its help line,
  choices and default, in the section's group.

Errors are :class:`OptionError`: a ``ValueError`` whose message names options as
Python fields (``time_reduction``) and that the command line shows with flags
(``--time-reduction``).

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Example:
    ...     size: int = option(8, "units", check=integer(1))
    >>> check_section(Example(size=0), "tag", {})
    Traceback (most recent call last):
    ...
    rnnseq.options.OptionError: size must be an integer >= 1, got 0
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "OptionError",
    "OptionWarning",
    "quoted",
    "literal",
    "render",
    "Per",
    "Spec",
    "option",
    "spec_of",
    "flag",
    "integer",
    "number",
    "check_section",
    "check_value",
    "default_value",
    "applies",
    "add_arguments",
]


# --------------------------------------------------------------------------
# Errors that name options.
# --------------------------------------------------------------------------


_REF = re.compile(r"\{\{|\}\}|\{(\d+)\}")


class OptionError(ValueError):
    """A bad option: one line naming the option(s).

    ``template`` is a string whose ``{0}``, ``{1}``, ... stand for the options in
    ``refs``: each an option name, or a (name, value) pair. ``str()`` writes them as
    Python sees them (``lr``, ``task='lm'``, ``overwrite=True``); :meth:`for_cli` as
    the command line does (``--lr``, ``--task lm``, ``--overwrite``). ``{{`` and ``}}``
    are literal braces (:func:`quoted` writes a value so); nothing else is interpreted,
    so a stray brace is shown as it is.
    """

    def __init__(self, template: str, *refs: str | tuple[str, Any]):
        self.template, self.refs = template, refs
        super().__init__(self._render(cli=False))

    def _render(self, *, cli: bool) -> str:
        return render(self.template, self.refs, cli=cli)

    def for_cli(self) -> str:
        """The message with options written as command-line flags."""
        return self._render(cli=True)


class OptionWarning(UserWarning):
    """A warning that names options, as :class:`OptionError` does: ``str()`` with
    Python fields, :meth:`for_cli` with flags (the command line shows that)."""

    def __init__(self, template: str, *refs: str | tuple[str, Any]):
        self.template, self.refs = template, refs
        super().__init__(render(template, refs, cli=False))

    def for_cli(self) -> str:
        return render(self.template, self.refs, cli=True)


def render(template: str, refs: tuple, *, cli: bool) -> str:
    """``template`` with each ``{k}`` replaced by option ``refs[k]`` as a field or a flag."""

    def one(m: re.Match) -> str:
        if m.group(1) is None:  # {{ or }}
            return m.group(0)[0]
        k = int(m.group(1))
        return _ref(refs[k], cli) if k < len(refs) else m.group(0)

    return _REF.sub(one, template)


def literal(text: Any) -> str:
    """``str(text)`` for a template: its braces doubled, so they are shown as they are."""
    return str(text).replace("{", "{{").replace("}", "}}")


def quoted(value: Any) -> str:
    """``repr(value)`` for a template (see :func:`literal`)."""
    return literal(repr(value))


def flag(name: str) -> str:
    """The command-line flag of field ``name``: ``time_reduction`` -> ``--time-reduction``."""
    return "--" + name.replace("_", "-")


def _ref(ref: str | tuple[str, Any], cli: bool) -> str:
    if isinstance(ref, str):
        return flag(ref) if cli else ref
    name, value = ref
    if cli:
        if value is True:  # a switch is typed alone: --overwrite
            return flag(name)
        shown = value if not isinstance(value, bool) else "no"
        return f"{flag(name)} {shown}"
    return f"{name}={value!r}"


# --------------------------------------------------------------------------
# Declarations.
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Per:
    """A default that depends on the task (``on="task"``) or on another option's value.

    ``values`` maps the task (or the other option's value) to the default;
    ``otherwise`` is the default for everything else.

        >>> Per("task", {"lm": 1}, otherwise=2).pick("tag")
        2
    """

    on: str
    values: Mapping[Any, Any]
    otherwise: Any = None

    def pick(self, key: Any) -> Any:
        return self.values.get(key, self.otherwise)

    def describe(self) -> str:
        """"1 for task lm; 2 otherwise", for --help."""
        parts = [f"{_show(v)} for {self.on} {k}" for k, v in self.values.items()]
        if self.otherwise is not None:
            parts.append(f"{_show(self.otherwise)} otherwise")
        return "; ".join(parts)


Check = Callable[[str, Any], None]


@dataclass(frozen=True)
class Spec:
    """Everything said about one option besides its Python default."""

    help: str  # the --help line (without the default, which is added)
    choices: tuple | None = None  # allowed values
    check: Check | None = None  # raises OptionError for an impossible value
    metavar: str | None = None
    # The tasks where a user may set it (None: every task). Elsewhere it must keep
    # its default (for that task): a value given there is refused.
    tasks: tuple[str, ...] | None = None
    # Values that exist only for some tasks, e.g. {"crf": ("tag",)} for --loss.
    choice_tasks: Mapping[Any, tuple[str, ...]] = field(default_factory=dict)
    # Other options this one needs when it is not at its default: name -> allowed values.
    requires: Mapping[str, tuple] = field(default_factory=dict)
    # The effective default when the field's Python default is None: a value or a Per.
    default: Any = None
    # A resumed run may change it (more epochs, another device, ...).
    session: bool = False
    # Shown in --help; False for fields that only the Python API or saved folders set.
    cli: bool = True
    required: bool = False  # the command line needs it


def option(python_default: Any, help: str, **spec: Any) -> Any:
    """A dataclass field with its :class:`Spec` (keyword arguments are Spec fields)."""
    return field(default=python_default, metadata={"spec": Spec(help=help, **spec)})


def spec_of(f: dataclasses.Field) -> Spec:
    return f.metadata.get("spec") or Spec(help="")


# --------------------------------------------------------------------------
# Checks of one value.
# --------------------------------------------------------------------------


def integer(low: int, high: int | None = None) -> Check:
    """An int (not a bool) in [low, high]."""

    def check(name: str, value: Any) -> None:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
        if ok and high is not None:
            ok = value <= high
        if not ok:
            span = f">= {low}" if high is None else f"in [{low}, {high}]"
            raise OptionError(f"{{0}} must be an integer {span}, got {quoted(value)}", name)

    return check


def number(low: float, high: float = math.inf, *, low_open=False, high_open=False) -> Check:
    """A finite int or float (not a bool) between low and high, each end open or closed."""

    def check(name: str, value: Any) -> None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = ok and math.isfinite(value)
        if ok:
            ok = (value > low if low_open else value >= low) and (
                value < high if high_open else value <= high
            )
        if not ok:
            raise OptionError(f"{{0}} must be {_range_text(low, high, low_open, high_open)}, "
                              f"got {quoted(value)}", name)  # fmt: skip

    return check


def _range_text(low, high, low_open, high_open) -> str:
    if high == math.inf:
        return f"a finite number {'>' if low_open else '>='} {_show(low)}"
    lo, hi = "(" if low_open else "[", ")" if high_open else "]"
    return f"a number in {lo}{_show(low)}, {_show(high)}{hi}"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e6:
        return str(int(value)) if value else "0"
    return str(value)


# --------------------------------------------------------------------------
# Validation and defaults of a section.
# --------------------------------------------------------------------------


def default_value(spec: Spec, python_default: Any, task: str, values: Mapping[str, Any]) -> Any:
    """The default of an option for ``task``, given the (resolved) values of the others."""
    if python_default is not None:
        return python_default
    d = spec.default
    if isinstance(d, Per):
        return d.pick(task if d.on == "task" else values.get(d.on))
    return d


def applies(spec: Spec, task: str) -> bool:
    """Whether a user may set the option for ``task``."""
    return spec.tasks is None or task in spec.tasks


def check_value(f: dataclasses.Field, spec: Spec, value: Any) -> None:
    """The checks every set option passes whatever its task: one of its choices, a real
    bool for a bool field, and its own ``check``.

    Raises:
        OptionError: naming the field.
    """
    if spec.choices is not None and value not in spec.choices:
        allowed = ", ".join(str(c) for c in spec.choices)
        raise OptionError(f"{{0}} must be one of {allowed}, got {quoted(value)}", f.name)
    if _base_type(f.type) is bool and not isinstance(value, bool):
        raise OptionError(f"{{0}} must be true or false, got {quoted(value)}", f.name)
    if spec.check is not None:
        spec.check(f.name, value)


def check_section(section: Any, task: str, others: Mapping[str, Any]) -> None:
    """Check every field of ``section`` (a dataclass instance) for ``task``.

    ``others`` holds the values of the options of other sections (for ``requires``).
    A field that does not apply to the task must be None or its default there; a
    field that applies is checked against its choices, its ``check`` and the other
    options it ``requires``.

    Raises:
        OptionError: naming the first option in the wrong.
    """
    values = {**others, **{f.name: getattr(section, f.name) for f in dataclasses.fields(section)}}
    for f in dataclasses.fields(section):
        spec, value = spec_of(f), getattr(section, f.name)
        if value is None:
            if spec.required:
                raise OptionError("{0} is required", f.name)
            continue
        default = default_value(spec, f.default, task, values)
        if not applies(spec, task):
            if value != default:
                raise OptionError(
                    f"{{0}} does not apply to {{1}} (only to task {_either(spec.tasks)})",
                    f.name,
                    ("task", task),
                )
            continue
        check_value(f, spec, value)
        only = spec.choice_tasks.get(value) if _hashable(value) else None
        if only is not None and task not in only:
            raise OptionError(
                f"{{0}} needs task {_either(only)}, not {{1}}", (f.name, value), ("task", task)
            )
        if value != default:
            for other, allowed in spec.requires.items():
                if values.get(other) not in allowed:
                    need = " or ".join(str(a) for a in allowed)
                    raise OptionError(
                        f"{{0}} applies only with {{1}} {need}, not {{2}}",
                        (f.name, value),
                        other,
                        (other, values.get(other)),
                    )


def _either(names) -> str:
    names = [str(n) for n in names or ()]
    return " or ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " or " + names[-1]


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


# --------------------------------------------------------------------------
# The command line.
# --------------------------------------------------------------------------


def _base_type(annotation: Any) -> type:
    """int, float, str or bool from an annotation such as ``int | None``."""
    if isinstance(annotation, str):
        text = annotation.replace(" ", "")
        for name, kind in (("bool", bool), ("int", int), ("float", float), ("str", str)):
            if text == name or text.startswith(name + "|"):
                return kind
        raise TypeError(f"cannot make a command-line option of type {annotation!r}")
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if args else annotation


def add_arguments(group: argparse._ActionsContainer, section_type: type) -> None:
    """One argument per field of ``section_type`` (a dataclass), added to ``group``
    (a parser or one of its argument groups).

    Arguments that are not given stay out of the parsed namespace
    (``argparse.SUPPRESS``), so what the user typed is told apart from the defaults.
    """
    for f in dataclasses.fields(section_type):
        spec = spec_of(f)
        if not spec.cli:
            continue
        kind = _base_type(f.type)
        kw: dict[str, Any] = {"default": argparse.SUPPRESS, "dest": f.name}
        help_text = spec.help + _default_text(spec, f.default, kind) + _tasks_text(spec)
        if kind is bool:
            if f.default is None:  # tri-state: --x / --no-x / the task's default
                kw["action"] = argparse.BooleanOptionalAction
            else:
                kw["action"] = "store_true"
        else:
            kw["type"] = kind
            if spec.choices is not None:
                kw["choices"] = list(spec.choices)
            else:
                kw["metavar"] = spec.metavar or _metavar(kind)
        if spec.required:
            kw["required"] = True
        group.add_argument(flag(f.name), help=help_text, **kw)


def _tasks_text(spec: Spec) -> str:
    """" [tag, lm]": the tasks an option applies to, when not all."""
    return "" if spec.tasks is None else f" [{', '.join(spec.tasks)}]"


def _metavar(kind: type) -> str:
    return {int: "N", float: "X", str: "TEXT"}.get(kind, "VALUE")


def _default_text(spec: Spec, python_default: Any, kind: type) -> str:
    if spec.required or "(default" in spec.help:
        return ""
    if kind is bool and python_default is False:
        return ""
    d = python_default if python_default is not None else spec.default
    if d is None:
        return ""
    if isinstance(d, Per):
        return f" (default {d.describe()})"
    return f" (default {('yes' if d else 'no') if kind is bool else _show(d)})"
