"""What `simulate --config` names: a profile and learning options, written `fast,rewardBaseline=sentiment`."""

from __future__ import annotations

from attrs import frozen

from domain.learning_config import PROFILES, InvalidLearningConfig, LearningConfig, validate_command_config
from domain.learning_options import CHOICES
from domain.settings import LearningSettings

SYNTAX = "PROFILE[,OPTION=CHOICE…], e.g. fast,rewardBaseline=sentiment,traitWeighting=per-feedback"


class InvalidConfiguration(ValueError):
    pass


@frozen
class Configuration:
    name: str  # as written on the command line
    config: LearningConfig


def parse_configuration(text: str, settings: LearningSettings) -> Configuration:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise InvalidConfiguration(f"--config {text!r} names nothing; expected {SYNTAX}")
    profile, *options = parts
    if "=" in profile:  # options alone: the default profile
        profile, options = "balanced", parts
    if profile not in PROFILES:
        raise InvalidConfiguration(
            f"--config {text!r}: unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}"
        )
    chosen = {}
    for option in options:
        name, sep, choice = option.partition("=")
        if not sep or name not in CHOICES:
            raise InvalidConfiguration(
                f"--config {text!r}: {option!r} is not OPTION=CHOICE with OPTION one of: {', '.join(CHOICES)}"
            )
        chosen[name] = choice
    config = LearningConfig(profile=profile, options=chosen)
    try:
        validate_command_config(config, settings)
    except InvalidLearningConfig as error:
        raise InvalidConfiguration(f"--config {text!r}: {error}") from None
    return Configuration(text, config)
