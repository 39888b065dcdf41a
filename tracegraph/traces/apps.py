from django.apps import AppConfig


class TracesConfig(AppConfig):
    name = "tracegraph.traces"
    label = "traces"
