"""The operator's agent registry: the template agent is prazium_appgen, chosen by name."""

from __future__ import annotations

import pytest

from prazium_appgen import TemplateCoder, TemplatePlanner
from prazium_operator.agents import Coder, Planner, get_coder, get_planner


def test_registry_returns_template_agents() -> None:
    planner, coder = get_planner("template"), get_coder("template")
    assert isinstance(planner, Planner) and isinstance(planner, TemplatePlanner)
    assert isinstance(coder, Coder) and isinstance(coder, TemplateCoder)


def test_registry_names_known_agents_for_unknown_names() -> None:
    with pytest.raises(ValueError, match=r"unknown planner agent 'gpt'.*template"):
        get_planner("gpt")
    with pytest.raises(ValueError, match=r"unknown coder agent 'aider'.*template"):
        get_coder("aider")
