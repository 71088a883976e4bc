"""A stack file's settings, or every problem the Pulumi CLI's type check and the program's validation find."""

from __future__ import annotations

import datetime as dt
import re

from components.settings.model import Settings
from components.settings.parse import parse_settings
from components.settings.problems import SettingsError
from tools.stack.stack_file import StackFile, declared_type_problems


def settings_or_problems(stack: str, stack_file: StackFile, now: dt.datetime) -> Settings | SettingsError:
    """The stack file's settings, or every problem the CLI's type check and the program's validation find."""
    typed = declared_type_problems(stack_file)
    try:
        settings = parse_settings(stack_file.raw, stack, now, stack_file.secret_keys, stack_file.misplaced)
    except SettingsError as error:
        # One problem per typed key: the CLI's type check, not the program's item by item.
        typed_keys = {p.path for p in typed}
        rest = [p for p in error.problems if re.split(r"[.\[]", p.path, maxsplit=1)[0] not in typed_keys]
        return SettingsError(stack, typed + rest)
    return SettingsError(stack, typed) if typed else settings
