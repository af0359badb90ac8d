from django.urls import path

from exports.views import access, catalog, jobs, requests, shares, tokens

app_name = "exports"

urlpatterns = [
    path("", requests.request_list, name="list"),
    path("exports/new/", requests.request_create, name="create"),
    path("exports/<int:pk>/", requests.request_detail, name="detail"),
    path("exports/<int:pk>/edit/", requests.request_edit, name="edit"),
    path("exports/<int:pk>/delete/", requests.request_delete, name="delete"),
    path("exports/<int:pk>/pause/", requests.request_pause, name="pause"),
    path("exports/<int:pk>/resume/", requests.request_resume, name="resume"),
    path("exports/<int:pk>/run/", requests.request_run, name="run"),
    path("exports/<int:pk>/jobs/", jobs.request_jobs, name="jobs"),
    path("exports/schedule/words.json", requests.schedule_words, name="schedule-words"),
    path("exports/catalog/series.json", catalog.catalog_series, name="catalog-series"),
    path(
        "exports/<int:request_pk>/jobs/<int:job_pk>/download/",
        jobs.job_download,
        name="job-download",
    ),
    # Sharing a request (issue 15).
    path("exports/<int:pk>/shares/", shares.share_add, name="share-add"),
    path(
        "exports/<int:pk>/shares/<int:share_pk>/delete/",
        shares.share_remove,
        name="share-remove",
    ),
    path("tokens/", tokens.token_list, name="tokens"),
    path("tokens/<int:pk>/revoke/", tokens.token_revoke, name="token-revoke"),
    path("access/", access.channel_list, name="access-channels"),
    path("access/channels/<str:channel_id>/", access.channel_detail, name="access-channel"),
    path(
        "access/channels/<str:channel_id>/grants/<int:pk>/revoke/",
        access.grant_revoke,
        name="access-revoke",
    ),
    path("access/teams/", access.group_list, name="access-groups"),
    path("access/teams/<int:pk>/", access.group_detail, name="access-group"),
    path(
        "access/teams/<int:pk>/members/<int:user_pk>/remove/",
        access.member_remove,
        name="access-member-remove",
    ),
    path("access/teams/<int:pk>/delete/", access.group_delete, name="access-group-delete"),
]
