from django.urls import path

from tracegraph.web import api, graph_api, otlp, shares, views

urlpatterns = [
    path("", views.search, name="search"),
    path("traces/<str:trace_id>", views.trace_page, name="trace"),
    path("traces/<str:trace_id>/spans/<str:span_id>", views.span_detail, name="span-detail"),
    path("graph/<str:trace_id>", views.graph_page, name="graph"),
    path("graph/<str:trace_id>/figure", views.graph_figure, name="graph-figure"),
    path("upload", views.upload, name="upload"),
    path("v1/traces", otlp.receive_traces, name="otlp-traces"),
    path("api/traces", api.trace_list, name="api-traces"),
    path("api/traces/<str:trace_id>", api.trace_detail, name="api-trace"),
    path("api/jobs/<str:job_id>", views.job_status, name="api-job"),
    path("api/spans/<str:trace_id>/<str:span_id>/links", api.span_links, name="api-span-links"),
    path("api/graph/<str:trace_id>", graph_api.graph, name="api-graph"),
    path("api/journey/<str:trace_id>/<str:span_id_>", graph_api.journey_view, name="api-journey"),
    path("api/stats/links", graph_api.link_stats, name="api-link-stats"),
    path("api/shares", shares.share_create, name="api-shares"),
    path("api/shares/<str:share_id>", shares.share_detail, name="api-share"),
    path("s/<str:share_id>", shares.share_redirect, name="share"),
]
