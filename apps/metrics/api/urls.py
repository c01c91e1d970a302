from django.urls import path

from apps.metrics.api import views

urlpatterns = [
    path("monitor/", views.MonitorView.as_view(), name="monitor"),
    path("metrics/", views.MetricsView.as_view(), name="metrics"),
    # Seed 004 (买家数据): the queue per group and day.
    path("metrics/queue/", views.QueueReportView.as_view(), name="metrics-queue"),
    # Seed 002 (考核): the targets the board and the metrics judge against.
    path("metrics/targets/", views.TargetsView.as_view(), name="metrics-targets"),
]
