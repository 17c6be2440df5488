from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Features that span every app: a patient's data export and erasure, and the demo clinic (seed_demo).

    At the top of the layering (docs/architecture.md): it reads and writes through the other apps' models and
    services, and none of them imports it.
    """

    name = "operations"
    verbose_name = "Operations"
