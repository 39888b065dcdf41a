from django.urls import path

from tracegraph.web import api, otlp, views

urlpatterns = [
    path("", views.search, name="search"),
    path("traces/<str:trace_id>", views.trace_page, name="trace"),
    path("upload", views.upload, name="upload"),
    path("v1/traces", otlp.receive_traces, name="otlp-traces"),
    path("api/traces", api.trace_list, name="api-traces"),
    path("api/traces/<str:trace_id>", api.trace_detail, name="api-trace"),
    path("api/spans/<str:trace_id>/<str:span_id>/links", api.span_links, name="api-span-links"),
]
