"""One generic registry for every plugin family: routers, training policies, sharing policies, trace loaders.

A :class:`Registry` maps a name to a plugin (a class, a factory or a loader) and what it does in one line::

    ROUTERS: Registry[RouterFactory] = Registry("router")

    @ROUTERS.register("round-robin")  # decorator form; the description defaults to the docstring's first paragraph
    class RoundRobin: ...

    ROUTERS.register("mine", MyRouter, description="...")  # call form
    ROUTERS.get("Round-Robin")  # case-insensitive; a miss raises UnknownNameError with "did you mean"

Names are lower case (letters, digits, ``.``, ``_``, ``-``) because users type them on a command line, and they are
looked up case-insensitively with surrounding spaces ignored. Registering a taken name is refused, naming both
plugins: a plugin never silently replaces another. tests/test_plugin_contract.py runs one contract over every
plugin of every family, taken from the registries themselves.
"""

from __future__ import annotations

import enum
import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar, overload

from chipfleet.exceptions import ConfigError, UnknownNameError

T = TypeVar("T")

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
"""What a plugin name may be: lower-case letters, digits, '.', '_' and '-', starting with a letter or digit."""


class _Missing(enum.Enum):
    """Sentinel for ``register``'s decorator form (``None`` could be a registered value)."""

    VALUE = enum.auto()


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered plugin: its name, the object registered and what it does (one line)."""

    name: str
    value: T
    description: str


def lookup_key(name: str) -> str:
    """The form a name is looked up in: ``" Round-Robin "`` is ``round-robin``."""
    return name.strip().lower()


def summary(obj: object) -> str:
    """The first paragraph of ``obj``'s docstring as one line, or '' when it has none of its own making."""
    doc = inspect.getdoc(obj)
    if not doc:
        return ""
    # A dataclass without a docstring gets its signature as __doc__ ("RoundRobin(_next: int = 0)"): not a description.
    if isinstance(obj, type) and doc.startswith(f"{obj.__name__}("):
        return ""
    return " ".join(doc.split("\n\n", 1)[0].replace("``", "").split())


def _label(value: object) -> str:
    """How a refused registration names a plugin: its qualified name when it has one (a class, a function), else
    its ``str`` (an entry record such as a trace loader's can say there what it wraps)."""
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    if isinstance(qualname, str):
        return f"{module}.{qualname}" if isinstance(module, str) else qualname
    return str(value)


class Registry(Generic[T]):
    """The plugins of one family by name; ``kind`` names the family in messages (``"router"``, ``"policy"``)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def check_name(self, name: str) -> str:
        """``name`` if it may be registered, else a :class:`ConfigError` saying what a name may be."""
        if not NAME_PATTERN.match(name):
            raise ConfigError(
                f"{self.kind} name {name!r} must be lower case: letters, digits, '.', '_' or '-', starting with a "
                "letter or digit (names are typed on the command line and looked up case-insensitively)."
            )
        return name

    @overload
    def register(self, name: str, *, description: str | None = None) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, value: T, *, description: str | None = None) -> T: ...

    def register(
        self, name: str, value: T | _Missing = _Missing.VALUE, *, description: str | None = None
    ) -> T | Callable[[T], T]:
        """Register ``value`` under ``name`` and return it, or, without ``value``, a decorator that does.

        ``description`` (one line) defaults to the first paragraph of the value's docstring. The name is checked
        at once, so a bad name fails where it is written; a taken name is refused with a :class:`ConfigError`
        naming the registered plugin and the new one.
        """
        self.check_name(name)
        if isinstance(value, _Missing):

            def decorate(plugin: T) -> T:
                return self._add(name, plugin, description)

            return decorate
        return self._add(name, value, description)

    def _add(self, name: str, value: T, description: str | None) -> T:
        if name in self._entries:
            old = self._entries[name]
            what = f"{_label(old.value)}: {old.description}" if old.description else _label(old.value)
            raise ConfigError(
                f"{self.kind} {name!r} is already registered ({what}); cannot register {_label(value)} under the "
                "same name: choose another name."
            )
        self._entries[name] = Entry(
            name, value, summary(value) if description is None else " ".join(description.split())
        )
        return value

    def entry(self, name: str) -> Entry[T]:
        """The entry registered as ``name`` (case-insensitive); a miss raises :class:`UnknownNameError` that
        suggests the closest names."""
        try:
            return self._entries[lookup_key(name)]
        except KeyError:
            raise UnknownNameError(self.kind, name, self.names()) from None

    def get(self, name: str) -> T:
        """The plugin registered as ``name`` (case-insensitive; see :meth:`entry`)."""
        return self.entry(name).value

    def description(self, name: str) -> str:
        return self.entry(name).description

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._entries)

    def entries(self) -> list[Entry[T]]:
        """Every entry (name, plugin, description), sorted by name: what a listing shows."""
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and lookup_key(name) in self._entries

    def __iter__(self) -> Iterator[str]:
        """The names, sorted (as iterating a mapping gives its keys)."""
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self.names())})"
