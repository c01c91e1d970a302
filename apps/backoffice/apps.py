from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    """The shop's back office: signup, sub-accounts, groups and settings, as services and API.

    It sits above the conversation lifecycle: a change here that moves routing (an account
    disabled, ``chat`` revoked, a group or a max changed, a routing setting) calls the lifecycle
    in the same transaction."""

    name = "apps.backoffice"
    label = "backoffice"
