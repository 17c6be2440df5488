"""Money the clinic asks for, takes, gives back and keeps; course packages; receipt and invoice numbers.

Amounts are Decimals with their currency beside them (GBP by default); a provider's minor units (pence) are
converted at the provider's edge only (`payments.money`). The rules that need several rows or a lock live
in `payments.services`; these models hold the data and what one row can check.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

from bookings.models import Appointment
from clinic.models import Patient, Treatment


def default_currency() -> str:
    return settings.PAYMENTS["CURRENCY"]


def money_field(**kwargs):
    return models.DecimalField(max_digits=10, decimal_places=2, **kwargs)


class DepositPolicy(models.Model):
    """What an online booking of a treatment asks for up front. No row: no deposit."""

    class Kind(models.TextChoices):
        NONE = "none", "No deposit"
        FIXED = "fixed", "A fixed amount"
        SHARE = "share", "A share of the price"

    treatment = models.OneToOneField(Treatment, on_delete=models.CASCADE, related_name="deposit_policy")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.NONE)
    amount = money_field(default=Decimal("0"), validators=[MinValueValidator(Decimal("0"))])
    percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(Decimal("0"))]
    )

    class Meta:
        verbose_name_plural = "deposit policies"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="deposit_amount_not_negative"),
            models.CheckConstraint(condition=Q(percent__gte=0, percent__lte=100), name="deposit_percent_0_to_100"),
        ]

    def __str__(self):
        return f"{self.treatment}: {self.get_kind_display()}"


class Payment(models.Model):
    """One amount asked for or taken: a deposit, a session, a package, a fee. Online payments start
    `pending` (a hold) and become `paid` only by the provider's signed webhook."""

    class Purpose(models.TextChoices):
        DEPOSIT = "deposit", "Deposit"
        SESSION = "session", "Session"
        PACKAGE = "package", "Course package"
        FEE = "fee", "Fee"

    class Method(models.TextChoices):
        CARD_ONLINE = "card_online", "Card online (Stripe)"
        CARD_TERMINAL = "card_terminal", "Card terminal at the desk"
        CASH = "cash", "Cash"
        WAIVED = "waived", "Waived"

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting payment"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Not paid in time"
        WAIVED = "waived", "Waived"

    class DepositOutcome(models.TextChoices):
        """What became of a paid deposit; empty for anything else."""

        HELD = "held", "Held for the appointment"
        APPLIED = "applied", "Counted towards the session"
        REFUNDED = "refunded", "Refunded"
        KEPT = "kept", "Kept as a late-cancellation or no-show fee"
        FEE_WAIVED = "fee_waived", "Fee waived: refunded"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="payments")
    appointment = models.ForeignKey(
        Appointment, on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    patient_package = models.ForeignKey(
        "PatientPackage", on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    method = models.CharField(max_length=15, choices=Method.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    deposit_outcome = models.CharField(max_length=12, choices=DepositOutcome.choices, blank=True)
    amount = money_field(validators=[MinValueValidator(Decimal("0.01"))])
    currency = models.CharField(max_length=3, default=default_currency)
    # Stripe: the Checkout Session (cs_...) and, once paid, its PaymentIntent (pi_...), which refunds name.
    provider_session_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    provider_payment_id = models.CharField(max_length=255, blank=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    hold_expires_at = models.DateTimeField(null=True, blank=True, help_text="A deposit's hold lapses then.")
    note = models.CharField(max_length=300, blank=True, help_text="A waiver's reason, a desk note.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "hold_expires_at"], name="payment_pending_holds"),
            models.Index(fields=["patient", "created_at"], name="payment_patient"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(paid_at__isnull=False), name="payment_paid_has_time"
            ),
            models.CheckConstraint(condition=~Q(status="waived") | ~Q(note=""), name="payment_waiver_has_reason"),
            # One deposit asked per appointment that is still pending or paid.
            models.UniqueConstraint(
                fields=["appointment"],
                condition=Q(purpose="deposit", status__in=("pending", "paid")),
                name="payment_one_live_deposit_per_appointment",
            ),
        ]

    def __str__(self):
        return f"{self.get_purpose_display()} {self.amount} {self.currency} ({self.get_status_display()})"

    @property
    def is_online(self) -> bool:
        return self.method == self.Method.CARD_ONLINE


class Refund(models.Model):
    """Money given back. Written in the transaction that decides it (status `pending`), then sent to the
    provider after commit with `idempotency_key`, so a retry (a beat task, a second click) never pays twice."""

    class Status(models.TextChoices):
        PENDING = "pending", "Being sent"
        SUCCEEDED = "succeeded", "Refunded"
        FAILED = "failed", "Failed"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = money_field(validators=[MinValueValidator(Decimal("0.01"))])
    currency = models.CharField(max_length=3, default=default_currency)
    reason = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    idempotency_key = models.CharField(max_length=80, unique=True)
    provider_refund_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    last_error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive")]

    def __str__(self):
        return f"Refund of {self.amount} {self.currency} ({self.get_status_display()})"


class ProviderEvent(models.Model):
    """Each provider event id, once. The row is inserted in the transaction that handles the event: a second
    delivery (a replay, or a race) waits on the unique index and then finds it, and changes nothing."""

    provider = models.CharField(max_length=20, default="stripe")
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    received_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="provider_event_once")]

    def __str__(self):
        return f"{self.provider} {self.type} {self.event_id}"


class Package(models.Model):
    """A course sold up front: so many sessions of a treatment for a price, valid so long."""

    name = models.CharField(max_length=120)
    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="packages")
    sessions = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    price = money_field(validators=[MinValueValidator(Decimal("0.01"))])
    currency = models.CharField(max_length=3, default=default_currency)
    valid_days = models.PositiveIntegerField(default=365, validators=[MinValueValidator(1)])
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["treatment", "sessions"]
        constraints = [
            models.CheckConstraint(condition=Q(sessions__gte=1), name="package_has_sessions"),
            models.CheckConstraint(condition=Q(price__gt=0), name="package_price_positive"),
        ]

    def __str__(self):
        return f"{self.name} ({self.sessions} sessions, {self.price} {self.currency})"


class PatientPackage(models.Model):
    """A package a patient bought. Each completed session of its treatment redeems one; the balance is what
    is left. An admin may refund the unused sessions pro rata, which closes it."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        REFUNDED = "refunded", "Unused sessions refunded"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="packages")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="sold")
    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="+")
    sessions_total = models.PositiveIntegerField()
    sessions_used = models.PositiveIntegerField(default=0)
    price_paid = money_field()
    currency = models.CharField(max_length=3, default=default_currency)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    purchased_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-purchased_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(sessions_used__lte=F("sessions_total")), name="package_never_overdrawn"),
        ]

    def __str__(self):
        return f"{self.package.name} for {self.patient}: {self.balance} of {self.sessions_total} left"

    @property
    def balance(self) -> int:
        return self.sessions_total - self.sessions_used


class Redemption(models.Model):
    """One completed session paid for by a package. One per appointment (an undone completion removes it)."""

    patient_package = models.ForeignKey(PatientPackage, on_delete=models.PROTECT, related_name="redemptions")
    appointment = models.OneToOneField(Appointment, on_delete=models.PROTECT, related_name="redemption")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"Session {self.appointment_id} from package {self.patient_package_id}"


class NumberCounter(models.Model):
    """The last number given in a series (receipts, invoices) and year. Locked FOR UPDATE by whoever takes the
    next number, in the transaction that issues the document: a rollback returns the number, so there are
    no gaps."""

    series = models.CharField(max_length=10)
    year = models.PositiveIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["series", "year"], name="number_counter_once")]

    def __str__(self):
        return f"{self.series} {self.year}: {self.last_number}"


class Document(models.Model):
    """A receipt (for a payment or a refund) or an invoice (for a visit), with its gapless number."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", "Receipt"
        INVOICE = "invoice", "Invoice"

    PREFIX = {Kind.RECEIPT: "R", Kind.INVOICE: "INV"}

    kind = models.CharField(max_length=10, choices=Kind.choices)
    year = models.PositiveIntegerField()
    sequence = models.PositiveIntegerField()
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="financial_documents")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="documents")
    refund = models.OneToOneField(Refund, on_delete=models.PROTECT, null=True, blank=True, related_name="receipt")
    appointment = models.ForeignKey(
        Appointment, on_delete=models.PROTECT, null=True, blank=True, related_name="invoices"
    )
    total = money_field(help_text="What the document states: paid, refunded (as a positive amount) or invoiced.")
    currency = models.CharField(max_length=3, default=default_currency)
    vat_number = models.CharField(max_length=30, blank=True, help_text="The clinic's, when VAT-registered.")
    vat_rate_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    issued_at = models.DateTimeField()

    class Email(models.TextChoices):
        """The document's email is its own outbox row (payments.documents): owed, sent once, or given up."""

        NONE = "none", "Not emailed (no real address)"
        PENDING = "pending", "To be emailed"
        SENT = "sent", "Emailed"
        FAILED = "failed", "Email failed for good"

    email_status = models.CharField(max_length=10, choices=Email.choices, default=Email.NONE)
    email_next_attempt_at = models.DateTimeField(null=True, blank=True)
    email_attempts = models.PositiveIntegerField(default=0)
    email_last_error = models.TextField(blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at", "-pk"]
        indexes = [
            models.Index(
                fields=["email_next_attempt_at"], condition=Q(email_status="pending"), name="document_email_due"
            )
        ]
        constraints = [
            models.UniqueConstraint(fields=["kind", "year", "sequence"], name="document_number_once"),
            models.UniqueConstraint(
                fields=["payment"], condition=Q(kind="receipt", refund__isnull=True), name="receipt_once_per_payment"
            ),
            models.UniqueConstraint(fields=["appointment"], condition=Q(kind="invoice"), name="invoice_once_per_visit"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.number}"

    @property
    def number(self) -> str:
        return f"{self.PREFIX[self.kind]}-{self.year}-{self.sequence:05d}"

    @property
    def is_refund(self) -> bool:
        return self.refund_id is not None
