"""What a page's form posts: each text field up to MAX_TEXT characters, read either as
a parameter of its own (`name: Text = ""`) or, where a form has more fields than a
signature reads well or shares them with another form, as one model
(`form: Annotated[SomeForm, Form()]`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form
from pydantic import BaseModel, Field

MAX_TEXT = 1024
Text = Annotated[str, Form(max_length=MAX_TEXT)]
FormText = Annotated[str, Field(max_length=MAX_TEXT)]  # a field of a PageForm


class PageForm(BaseModel):
    """Base of a form read as one model; a field it does not name is ignored, as a
    parameter list ignores it."""
