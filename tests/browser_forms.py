"""What a browser submits when a person presses a form's button without changing anything.

The test client posts whatever a test writes; a browser posts what the page rendered, read the way the HTML
standard says. That difference hid real bugs: a date rendered as 12/04/1988 into `<input type=date>` is shown
empty by the browser (its value sanitisation keeps only ISO `YYYY-MM-DD`), so every unchanged save sent an
empty date. `submitted_data` reproduces those rules with the standard library's HTML parser:

- inputs, selects and textareas with a name, not disabled, inside the form (or naming it with `form=`);
- checkboxes and radios only when checked (value "on" when they have none);
- a select sends its selected options, or its first option when none is selected (single select);
- value sanitisation of date, time, number, email inputs: a value the input would not hold is sent empty;
- file inputs send nothing (no file chosen); only the pressed submit button's name and value are sent.
"""

import datetime
import re
from html.parser import HTMLParser

_SKIPPED_TYPES = {"submit", "button", "reset", "image", "file"}


def _sanitised(input_type: str, value: str) -> str:
    """HTML's value sanitisation algorithm for the input types our forms use."""
    if input_type == "date":
        try:
            return value if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) and datetime.date.fromisoformat(value) else ""
        except ValueError:
            return ""
    if input_type == "time":
        return value if re.fullmatch(r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?", value) else ""
    if input_type == "number":
        return value if re.fullmatch(r"-?(\d+(\.\d+)?|\.\d+)([eE][-+]?\d+)?", value) else ""
    if input_type in {"email", "tel", "text", "search", "hidden", "password", "url"}:
        return value.replace("\r", "").replace("\n", "") if input_type != "hidden" else value
    return value


class _Form:
    def __init__(self, attrs):
        self.attrs = attrs
        self.fields = []  # (name, value) in document order
        self.submits = []  # (name, value, label-ish)


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self._form = None
        self._by_id = {}
        self._select = None  # [form, name, options[(value, selected)], multiple]
        self._option = None  # [value or None, text, selected]
        self._textarea = None  # [form, name, text]

    def _owner(self, attrs):
        if "form" in attrs and attrs["form"] in self._by_id:
            return self._by_id[attrs["form"]]
        return self._form

    def handle_starttag(self, tag, attrs_list):
        attrs = {k: (v if v is not None else "") for k, v in attrs_list}
        if tag == "form":
            if self._form is not None:
                return  # a browser ignores a <form> inside a form: its fields belong to the outer one
            self._form = _Form(attrs)
            self.forms.append(self._form)
            if attrs.get("id"):
                self._by_id[attrs["id"]] = self._form
            return
        form = self._owner(attrs)
        if form is None:
            return
        name = attrs.get("name")
        disabled = "disabled" in attrs
        if tag == "input":
            kind = attrs.get("type", "text").lower()
            if kind in {"submit", "image"}:
                form.submits.append((name, attrs.get("value", ""), attrs.get("value", "")))
                return
            if not name or disabled or kind in _SKIPPED_TYPES:
                return
            if kind in {"checkbox", "radio"}:
                if "checked" in attrs:
                    form.fields.append((name, attrs.get("value", "on")))
                return
            form.fields.append((name, _sanitised(kind, attrs.get("value", ""))))
        elif tag == "button":
            if attrs.get("type", "submit").lower() == "submit":
                form.submits.append((name, attrs.get("value", ""), ""))
        elif tag == "select" and name and not disabled:
            self._select = [form, name, [], "multiple" in attrs]
        elif tag == "option" and self._select is not None:
            self._option = [attrs.get("value"), "", "selected" in attrs]
        elif tag == "textarea" and name and not disabled:
            self._textarea = [form, name, ""]

    def handle_data(self, data):
        if self._option is not None:
            self._option[1] += data
        if self._textarea is not None:
            self._textarea[2] += data

    def handle_endtag(self, tag):
        if tag == "option" and self._option is not None:
            value, text, selected = self._option
            self._select[2].append((value if value is not None else text.strip(), selected))
            self._option = None
        elif tag == "select" and self._select is not None:
            form, name, options, multiple = self._select
            chosen = [value for value, selected in options if selected]
            if not chosen and options and not multiple:
                chosen = [options[0][0]]
            if not multiple:
                chosen = chosen[-1:]
            form.fields.extend((name, value) for value in chosen)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            form, name, text = self._textarea
            # The parser drops nothing; HTML drops one newline right after <textarea>.
            form.fields.append((name, text[1:] if text.startswith("\n") else text))
            self._textarea = None
        elif tag == "form":
            self._form = None


def page_forms(html: str) -> list[_Form]:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


def submitted_data(html: str, *, action: str | None = None, button: str | None = None) -> dict[str, list[str]]:
    """The data the browser posts from the page's form (the one whose action is `action`, else the only POST
    form), pressing the submit button named `button` (else the first one). A dict of lists, as the test
    client takes it for repeated names."""
    forms = [f for f in page_forms(html) if f.attrs.get("method", "get").lower() == "post"]
    if action is not None:
        forms = [f for f in forms if f.attrs.get("action", "") == action]
    assert forms, f"no POST form{f' with action {action!r}' if action is not None else ''} on the page"
    assert len(forms) == 1, f"{len(forms)} POST forms match: name the action"
    form = forms[0]
    data: dict[str, list[str]] = {}
    for name, value in form.fields:
        data.setdefault(name, []).append(value)
    named = [s for s in form.submits if s[0]]
    if button is not None:
        pressed = [s for s in named if s[0] == button]
        assert pressed, f"no submit button named {button!r}"
        data.setdefault(button, []).append(pressed[0][1])
    elif form.submits and form.submits[0][0]:
        data.setdefault(form.submits[0][0], []).append(form.submits[0][1])
    return data
