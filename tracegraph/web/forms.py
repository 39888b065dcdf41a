from django import forms


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class UploadForm(forms.Form):
    files = forms.FileField(
        widget=MultipleFileInput(attrs={"multiple": True}),
        help_text="OTLP JSON / JSON Lines / protobuf, Jaeger JSON or Zipkin v2 JSON; .gz accepted",
    )
