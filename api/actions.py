"""One POST shape for a staff action on one object: look it up, ask the refusal, call the service."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework import serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.response import Response

from api.schema import doc


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="", help_text="Kept in the audit trail.")


def reason_of(request) -> str:
    data = ReasonSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data["reason"] or "API"


def service_action(model, service, serializer, *, tag: str, summary: str, permission, refusal=None):
    """A POST that calls ``service(pk, actor=..., reason=...)`` on one object and returns it
    serialised. ``permission``: the DRF permission class; ``refusal(request, obj)``: a reason to
    refuse this object (403), or None. What the service refuses (a FieldError) is a 400 naming
    its field (api.handlers)."""

    @doc(tag, summary, serializer, request=ReasonSerializer)
    @api_view(["POST"])
    @permission_classes([permission])
    def action(request, pk):
        obj = get_object_or_404(model, pk=pk)
        why = refusal(request, obj) if refusal else None
        if why:
            return Response({"detail": why}, status=status.HTTP_403_FORBIDDEN)
        changed = service(pk, actor=request.user, reason=reason_of(request))
        return Response(serializer(model.objects.get(pk=changed.pk)).data)

    return action
