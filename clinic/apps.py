from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinic"

    def ready(self):
        from . import roles

        post_migrate.connect(roles.sync_role_permissions_on_migrate, dispatch_uid="clinic-role-permissions")
        from .celery import ensure_filesystem_broker_folders

        ensure_filesystem_broker_folders()
        from .audit import register_audited_models

        register_audited_models()
