"""A small HTML reader for page tests: forms and their fields, and elements by id."""
from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)       # hidden/text inputs, last wins
    checkboxes: list[str] = field(default_factory=list)         # values of name="scope" boxes
    choices: dict[str, list[str]] = field(default_factory=dict)  # other checkboxes and radios, by name
    checked: dict[str, list[str]] = field(default_factory=dict)  # those of them checked


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.by_id: dict[str, str] = {}
        self._open: list[tuple[str, str, list[str]]] = []  # (tag, id, text parts)
        self._form: Form | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = Form(action=a.get("action", ""), method=a.get("method", "get").lower())
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None and a.get("name"):
            if a.get("type") == "checkbox" and a["name"] == "scope":
                self._form.checkboxes.append(a.get("value", ""))
                if "checked" in a:
                    self._form.checked.setdefault("scope", []).append(a.get("value", ""))
            elif a.get("type") in ("checkbox", "radio"):
                self._form.choices.setdefault(a["name"], []).append(a.get("value", ""))
                if "checked" in a:
                    self._form.checked.setdefault(a["name"], []).append(a.get("value", ""))
            else:
                self._form.fields[a["name"]] = a.get("value", "")
        if a.get("id"):
            self._open.append((tag, a["id"], []))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        if self._open and self._open[-1][0] == tag:
            _, element_id, parts = self._open.pop()
            self.by_id[element_id] = "".join(parts)

    def handle_data(self, data):
        for _, _, parts in self._open:
            parts.append(data)


@dataclass
class Page:
    forms: list[Form]
    by_id: dict[str, str]

    def form(self, action: str) -> Form:
        matches = [f for f in self.forms if f.action == action]
        assert matches, f"no form posting to {action}; forms: {[f.action for f in self.forms]}"
        return matches[0]


def parse(html: str) -> Page:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return Page(forms=reader.forms, by_id=reader.by_id)
