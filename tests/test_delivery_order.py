"""A job's deliveries are listed in one order on the pages and in the API.

The order of ``notifications.queries``: by the message's position on the request, then by
creation — so a message moved up the list is shown first, whenever its delivery was made.
"""

import re

from django.urls import reverse

from exports.models import ApiToken
from notifications.models import Delivery
from notifications.queries import deliveries_for_job, with_job_deliveries
from tests.test_notifications_fakes import add_message, make_job, make_request


def deliveries_made_out_of_order(alice):
    """A job with two deliveries whose creation order is not their messages' order."""
    export = make_request(alice)
    first = add_message(export, "email", "first@example.org")
    second = add_message(export, "telegram", "12345")
    job = make_job(export)
    later = Delivery.objects.create(job=job, message=second, recipient="12345")
    earlier = Delivery.objects.create(job=job, message=first, recipient="first@example.org")
    return job, [earlier.pk, later.pk]


def test_deliveries_for_job_follows_the_messages(alice):
    job, expected = deliveries_made_out_of_order(alice)
    assert [d.pk for d in deliveries_for_job(job)] == expected
    [loaded] = with_job_deliveries(type(job).objects.filter(pk=job.pk))
    assert [d.pk for d in deliveries_for_job(loaded)] == expected


def test_the_api_and_the_page_list_deliveries_alike(client, alice):
    job, expected = deliveries_made_out_of_order(alice)
    _, secret = ApiToken.objects.issue(alice, "test")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}

    detail = client.get(reverse("api:job", args=[job.pk]), **auth).json()
    listed = client.get(reverse("api:export-jobs", args=[job.request_id]), **auth).json()
    assert [d["id"] for d in detail["deliveries"]] == expected
    assert [d["id"] for d in listed["results"][0]["deliveries"]] == expected

    client.force_login(alice)
    page = client.get(reverse("exports:jobs", args=[job.request_id])).content.decode()
    shown = re.findall(r'class="delivery delivery-\w+">\s*(\w+)', page)
    assert shown == ["email", "Telegram"]
