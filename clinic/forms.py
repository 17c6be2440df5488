import datetime

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator
from django.forms import BaseInlineFormSet, inlineformset_factory

from clinic import clock

from . import phones
from .models import Patient, Practitioner, Site, User, WorkingHours, default_site, validate_adult
from .phones import PhoneField


class DateInput(forms.DateInput):
    """`<input type=date>` holds only an ISO date: rendered in the en-GB input format (12/04/1988), the browser
    shows it empty and sends it empty, so an unchanged form lost its dates or failed to save."""

    input_type = "date"

    def __init__(self, attrs=None, format=None):
        super().__init__(attrs, format=format or "%Y-%m-%d")


class TimeInput(forms.TimeInput):
    input_type = "time"


CALENDAR_YEARS = 100  # how far from today a calendar page may be asked to show


def within_calendar(day: datetime.date) -> bool:
    """Whether a page may work with this day: within CALENDAR_YEARS of today. The bound keeps a page's own
    arithmetic (the week's Monday, the previous and next day, the day's times in UTC, a slot's end) inside the
    dates Python can hold: 9999-12-31 and 0001-01-01 were 500s."""
    return abs(day.year - clock.today().year) <= CALENDAR_YEARS


def read_calendar_day(text: str) -> datetime.date | None:
    """A day asked of a calendar page (`?date=` or `?day=`, ISO format), or None if it cannot be shown."""
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        return None
    return day if within_calendar(day) else None


class CalendarDateField(forms.DateField):
    """A day to find or move appointments on: refused, with a message, beyond `within_calendar`."""

    def validate(self, value):
        super().validate(value)
        if value and not within_calendar(value):
            raise forms.ValidationError(f"Choose a date within {CALENDAR_YEARS} years of today.")


def submit_helper(label: str) -> FormHelper:
    """A whole form: crispy writes the <form method=post> tag with the CSRF token. The server checks every
    field and says what is wrong (novalidate), rather than the browser's bubbles."""
    helper = FormHelper()
    helper.attrs = {"novalidate": ""}
    helper.add_input(Submit("submit", label))
    return helper


class SignInForm(AuthenticationForm):
    """Django's sign-in form sets the username's max_length after building the field, so nothing checks it:
    a 10,000-character address went on to authenticate(), and django-axes failed to store it (a 500). Here
    it is refused as any other invalid input, before any sign-in attempt is made or recorded."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        username = self.fields["username"]
        username.validators.append(MaxLengthValidator(username.max_length))


class SignupForm(forms.Form):
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    email = forms.EmailField(help_text="You will sign in with this address.")
    phone = PhoneField()
    date_of_birth = forms.DateField(widget=DateInput, validators=[validate_adult])
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = submit_helper("Create my account")

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                "An account with this email address already exists. Sign in or reset your password."
            )
        return email

    def clean(self):
        cleaned = super().clean()
        p1, p2 = cleaned.get("password1"), cleaned.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", "The two passwords differ.")
        elif p1:
            candidate = User(
                email=cleaned.get("email", ""),
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
            )
            try:
                password_validation.validate_password(p1, candidate)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


def clean_phone_number(value: str) -> str:
    """A phone number kept as text (a health form's emergency contact): checked as `clinic.phones` checks
    patients' numbers, kept in the form people read."""
    e164 = phones.to_e164(value)
    if e164 is None:
        raise forms.ValidationError(phones.INVALID)
    return phones.display(e164)


class UserNameForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["first_name", "last_name"]


class PatientProfileForm(forms.ModelForm):
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    phone = PhoneField()

    class Meta:
        model = Patient
        fields = ["phone", "date_of_birth", "sms_opt_in", "non_essential_opt_out"]
        widgets = {"date_of_birth": DateInput}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["first_name"].initial = self.instance.user.first_name
        self.fields["last_name"].initial = self.instance.user.last_name
        self.order_fields(["first_name", "last_name"])
        self.helper = submit_helper("Save my details")


class PractitionerProfileForm(forms.ModelForm):
    class Meta:
        model = Practitioner
        fields = ["title", "bio", "qualifications", "registration_number", "photo", "treatments"]
        widgets = {"treatments": forms.CheckboxSelectMultiple}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False


class BaseWorkingHoursFormSet(BaseInlineFormSet):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sites = list(Site.objects.order_by("display_order", "name", "pk"))  # once for every row

    @property
    def several_sites(self) -> bool:
        """Whether each span names its site (the table's Site column); with one site, every span is there."""
        return len(self.sites) > 1

    def get_form_kwargs(self, index):
        kwargs = super().get_form_kwargs(index)
        if issubclass(self.form, WorkingHoursForm):  # the admin's inline brings its own form
            kwargs["sites"] = self.sites
        return kwargs

    def clean(self):
        """Overlaps between rows of one submission: the model's own check only sees saved rows."""
        super().clean()
        spans = []
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or not form.cleaned_data or form.cleaned_data.get("DELETE"):
                continue
            data = form.cleaned_data
            if data.get("start") and data.get("end") and data.get("weekday") is not None:
                spans.append((data["weekday"], data["start"], data["end"], form))
        for i, (day, start, end, form) in enumerate(spans):
            for other_day, other_start, other_end, _ in spans[:i]:
                if day == other_day and start < other_end and other_start < end:
                    form.add_error(None, "These hours overlap another span on the same day: join them or change one.")


class WorkingHoursForm(forms.ModelForm):
    """One span: where (the site, when the clinic has several; else the one site), which day, from and to."""

    class Meta:
        model = WorkingHours
        fields = ["site", "weekday", "start", "end"]
        widgets = {"start": TimeInput(format="%H:%M"), "end": TimeInput(format="%H:%M")}

    def __init__(self, *args, sites=None, **kwargs):
        super().__init__(*args, **kwargs)
        sites = list(Site.objects.all()) if sites is None else sites
        field = self.fields["site"]
        field.required = False  # blank: the first site (default_site), as a span saved without one
        field.choices = [(site.pk, site.name) for site in sites]  # no query per row
        if self.instance.pk is None and sites:  # a new row shows the first site: left blank, it is unchanged
            self.initial.setdefault("site", sites[0].pk)
        if len(sites) < 2:
            field.widget = forms.HiddenInput()

    def clean_site(self):
        return self.cleaned_data.get("site") or default_site()


# At most this many rows a submission (a week of spans at several sites fits many times over). Django's
# default lets a posted TOTAL_FORMS of 2147483648 build, validate and show 2,000 forms before refusing it
# (about 1 s of work a request here); past this many the submission is refused having built only these.
MOST_ROWS = 100

WorkingHoursFormSet = inlineformset_factory(
    Practitioner,
    WorkingHours,
    form=WorkingHoursForm,
    formset=BaseWorkingHoursFormSet,
    extra=2,
    can_delete=True,
    max_num=MOST_ROWS,
    absolute_max=MOST_ROWS,
)


class ErasureRequestForm(forms.Form):
    """The patient confirms with their password (whoever holds an open session cannot ask for them) and a
    tick that they understand what is kept."""

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="To be sure it is you asking.",
    )
    understood = forms.BooleanField(
        label="I understand that my account will be closed, my future appointments cancelled, and that the "
        "clinic keeps my health record, without my name and contact details, for the time the law requires.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.helper = submit_helper("Ask the clinic to erase my data")

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password: nothing was sent.")
        return password
