"""The notification rows of the editor: a message's form and their formset."""

from __future__ import annotations

from django import forms

from exports.editor.common import ChildFormSet
from exports.models import ExportRequest, NotificationMessage
from exports.requests import caps


class MessageForm(forms.ModelForm):
    class Meta:
        model = NotificationMessage
        fields = ["policy", "medium", "target", "title", "text", "skip_empty", "attach"]
        widgets = {"text": forms.Textarea(attrs={"rows": 3})}


class BaseMessageFormSet(ChildFormSet):
    remove_label = "Remove this notification"
    cap = staticmethod(caps.max_messages)
    too_many = staticmethod(caps.too_many_messages)


# One blank "extra" row lets people without JavaScript add a message per save.
MessageFormSet = forms.inlineformset_factory(
    ExportRequest,
    NotificationMessage,
    form=MessageForm,
    formset=BaseMessageFormSet,
    extra=1,
    max_num=caps.DEFAULT_MAX_MESSAGES,  # read from the settings when built (ChildFormSet)
    validate_max=True,
    can_delete=True,
)
