"""Routes of the JSON API, mounted under ``/api/``."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from exports.api.errors import no_such_endpoint
from exports.api.views import access, catalog, ingest, jobs, requests, shares

app_name = "api"

urlpatterns = [
    path("exports", requests.ExportListView.as_view(), name="exports"),
    path("exports/preview", catalog.PreviewView.as_view(), name="preview"),
    path("exports/<int:pk>", requests.ExportDetailView.as_view(), name="export"),
    path("exports/<int:pk>/run", requests.ExportRunView.as_view(), name="run"),
    path("exports/<int:pk>/pause", requests.ExportPauseView.as_view(), name="pause"),
    path("exports/<int:pk>/resume", requests.ExportResumeView.as_view(), name="resume"),
    path("exports/<int:pk>/jobs", jobs.ExportJobsView.as_view(), name="export-jobs"),
    path("exports/<int:pk>/download", jobs.ExportDownloadView.as_view(), name="export-download"),
    # Sharing a request (issue 15).
    path("exports/<int:pk>/shares", shares.ExportSharesView.as_view(), name="export-shares"),
    path(
        "exports/<int:pk>/shares/<int:share_pk>",
        shares.ExportShareView.as_view(),
        name="export-share",
    ),
    path("jobs/<int:pk>", jobs.JobDetailView.as_view(), name="job"),
    path("jobs/<int:pk>/download", jobs.JobDownloadView.as_view(), name="job-download"),
    path("series", catalog.SeriesView.as_view(), name="series"),
    path("channels", access.ChannelListView.as_view(), name="channels"),
    path(
        "channels/<str:channel>/grants",
        access.ChannelGrantsView.as_view(),
        name="channel-grants",
    ),
    path(
        "channels/<str:channel>/grants/<int:grant_id>",
        access.ChannelGrantView.as_view(),
        name="channel-grant",
    ),
    path("groups", access.GroupListView.as_view(), name="groups"),
    path("groups/<str:name>", access.GroupView.as_view(), name="group"),
    path(
        "groups/<str:name>/members/<str:username>",
        access.GroupMemberView.as_view(),
        name="group-member",
    ),
    path(
        "channels/<str:channel>/messages/<str:subtopic>",
        ingest.IngestView.as_view(),
        name="ingest",
    ),
    path(
        "schema/",
        SpectacularAPIView.as_view(permission_classes=[AllowAny], authentication_classes=[]),
        name="schema",
    ),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(
            url_name="api:schema", permission_classes=[AllowAny], authentication_classes=[]
        ),
        name="docs",
    ),
    # Anything else under /api/ is a JSON 404, never the site's HTML page.
    re_path(r"^[\s\S]*$", no_such_endpoint),
]
