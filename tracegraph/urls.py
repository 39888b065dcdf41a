from django.urls import include, path

urlpatterns = [
    path("", include("tracegraph.web.urls")),
]
