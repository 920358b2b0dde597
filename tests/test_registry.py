"""The generic plugin registry: both registration forms, refused names and duplicates, lookup, listing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from chipfleet.exceptions import ChipfleetError, ConfigError, UnknownNameError
from chipfleet.registry import Entry, Registry, lookup_key, summary


class Greeter:
    """Says hello.

    A second paragraph that the description leaves out.
    """

    def greet(self) -> str:
        return "hello"


class Shouter(Greeter):
    """Says HELLO,
    over two lines."""

    def greet(self) -> str:
        return "HELLO"


@dataclass
class Undocumented:
    volume: int = 1


def make_registry() -> Registry[Callable[[], Greeter]]:
    return Registry("greeter")


def test_decorator_form_returns_the_plugin_and_takes_the_docstring() -> None:
    reg = make_registry()

    @reg.register("plain")
    class Plain(Greeter):
        """Greets plainly."""

    assert Plain().greet() == "hello"  # the decorator hands the class back unchanged
    assert reg.get("plain") is Plain
    assert reg.description("plain") == "Greets plainly."


def test_call_form_and_explicit_description() -> None:
    reg = make_registry()
    assert reg.register("greeter", Greeter) is Greeter
    reg.register("shouter", Shouter, description="  Shouts,\n  loudly. ")
    assert reg.description("greeter") == "Says hello."  # first paragraph only
    assert reg.description("shouter") == "Shouts, loudly."  # one line
    assert reg.get("shouter")().greet() == "HELLO"


def test_description_defaults() -> None:
    assert summary(Shouter) == "Says HELLO, over two lines."
    assert summary(Undocumented) == ""  # a dataclass's generated signature is not a description
    assert summary(lambda: None) == ""
    reg: Registry[object] = Registry("thing")
    reg.register("quiet", Undocumented)
    reg.register("blank", Greeter, description="")  # an explicit '' stays ''
    assert reg.description("quiet") == "" and reg.description("blank") == ""


def test_duplicates_are_refused_naming_both() -> None:
    reg = make_registry()
    reg.register("greeter", Greeter)
    with pytest.raises(ConfigError) as err:
        reg.register("greeter", Shouter)
    message = str(err.value)
    assert "greeter 'greeter' is already registered" in message
    assert f"{__name__}.Greeter: Says hello." in message  # the one registered, with its description
    assert f"{__name__}.Shouter" in message  # and the one refused
    assert isinstance(err.value, ChipfleetError) and isinstance(err.value, ValueError)
    assert reg.get("greeter") is Greeter  # the first registration stands

    decorate = reg.register("greeter")  # the decorator form is refused when applied
    with pytest.raises(ConfigError, match="already registered"):
        decorate(Shouter)
    assert reg.names() == ["greeter"]


@pytest.mark.parametrize("bad", ["Greeter", "my greeter", "-dash", "", "greeter!", " greeter"])
def test_names_that_could_not_be_typed_or_looked_up_are_refused(bad: str) -> None:
    reg = make_registry()
    with pytest.raises(ConfigError, match="must be lower case"):
        reg.register(bad)  # refused where it is written, before anything is decorated
    with pytest.raises(ConfigError, match="must be lower case"):
        reg.register(bad, Greeter)
    assert len(reg) == 0


@pytest.mark.parametrize("good", ["a", "round-robin", "v1.2_beta", "0day"])
def test_good_names(good: str) -> None:
    reg = make_registry()
    reg.register(good, Greeter)
    assert good in reg


def test_lookup_is_case_insensitive_and_a_miss_suggests() -> None:
    reg = make_registry()
    reg.register("least-outstanding", Greeter)
    reg.register("power-of-two", Shouter)
    assert lookup_key(" Power-Of-Two ") == "power-of-two"
    assert reg.get(" POWER-of-two ") is Shouter
    assert "Least-Outstanding" in reg and "least" not in reg and 3 not in reg
    with pytest.raises(UnknownNameError) as err:
        reg.get("least-outstandin")
    assert err.value.kind == "greeter" and err.value.name == "least-outstandin"
    assert err.value.suggestions == ["least-outstanding"]
    assert "Did you mean least-outstanding?" in str(err.value)
    assert isinstance(err.value, KeyError)


def test_listing_is_sorted_with_descriptions() -> None:
    reg = make_registry()
    reg.register("zeta", Shouter)
    reg.register("alpha", Greeter, description="first")
    assert reg.names() == ["alpha", "zeta"] == list(reg)
    assert reg.entries() == [Entry("alpha", Greeter, "first"), Entry("zeta", Shouter, "Says HELLO, over two lines.")]
    assert len(reg) == 2
    assert repr(reg) == "Registry('greeter': alpha, zeta)"


def test_registries_are_independent() -> None:
    a, b = make_registry(), make_registry()
    a.register("greeter", Greeter)
    b.register("greeter", Shouter)
    assert a.get("greeter") is Greeter and b.get("greeter") is Shouter
