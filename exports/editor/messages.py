"""The notification rows of the editor: a message's form and their formset."""

from __future__ import annotations

from django import forms

from exports.editor.common import ChildFormSet
from exports.models import ExportRequest, NotificationMessage

MAX_MESSAGES = 20


class MessageForm(forms.ModelForm):
    class Meta:
        model = NotificationMessage
        fields = ["policy", "medium", "target", "title", "text", "skip_empty", "attach"]
        widgets = {"text": forms.Textarea(attrs={"rows": 3})}


class BaseMessageFormSet(ChildFormSet):
    remove_label = "Remove this notification"
    default_error_messages = {
        "too_many_forms": f"An export can have at most {MAX_MESSAGES} notification messages.",
    }


# One blank "extra" row lets people without JavaScript add a message per save.
MessageFormSet = forms.inlineformset_factory(
    ExportRequest,
    NotificationMessage,
    form=MessageForm,
    formset=BaseMessageFormSet,
    extra=1,
    max_num=MAX_MESSAGES,
    validate_max=True,
    can_delete=True,
)
