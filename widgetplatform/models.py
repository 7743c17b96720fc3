"""Custom profile fields of the platform's users."""

from django.conf import settings
from django.db import models


class ProfileFieldValue(models.Model):
    """The value of custom profile field ``field_id`` for one user."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    field_id = models.PositiveIntegerField()
    value = models.CharField(max_length=1000)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "field_id"], name="one_value_per_profile_field"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.field_id}"
