from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "tracegraph.web"
    label = "web"
