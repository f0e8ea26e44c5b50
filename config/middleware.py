"""Middleware by route group: sessions, authentication and messages only where a route needs them.

settings.MIDDLEWARE_GROUPS is the table: (group, path prefixes, only with an Authorization
header, middleware). The first matching row wins. This dispatcher sits in MIDDLEWARE among the
middleware every request runs; it builds one inner chain per group at start-up, the way Django
builds its own (each middleware wrapped so an exception becomes a response), and forwards the
view, exception and template-response hooks to the matched group's middleware, in Django's order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.exception import convert_exception_to_response
from django.utils.module_loading import import_string


@dataclass
class Group:
    name: str
    prefixes: tuple[str, ...]
    needs_authorization: bool
    handler: object = None
    view_hooks: list = field(default_factory=list)
    exception_hooks: list = field(default_factory=list)
    template_hooks: list = field(default_factory=list)

    def matches(self, request) -> bool:
        if self.needs_authorization and "HTTP_AUTHORIZATION" not in request.META:
            return False
        return request.path_info.startswith(self.prefixes)


class RouteGroupMiddleware:
    def __init__(self, get_response):
        self.groups = []
        for name, prefixes, needs_authorization, paths in settings.MIDDLEWARE_GROUPS:
            group = Group(name, tuple(prefixes), needs_authorization)
            handler = get_response
            for path in reversed(paths):
                try:
                    instance = import_string(path)(handler)
                except MiddlewareNotUsed:
                    continue
                if hasattr(instance, "process_view"):
                    group.view_hooks.insert(0, instance.process_view)
                if hasattr(instance, "process_exception"):
                    group.exception_hooks.append(instance.process_exception)
                if hasattr(instance, "process_template_response"):
                    group.template_hooks.append(instance.process_template_response)
                handler = convert_exception_to_response(instance)
            group.handler = handler
            self.groups.append(group)

    def _group(self, request) -> Group:
        group = getattr(request, "_route_group", None)
        if group is None:
            group = next((g for g in self.groups if g.matches(request)), self.groups[-1])
            request._route_group = group
            request.route_group = group.name
        return group

    def __call__(self, request):
        return self._group(request).handler(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        for hook in self._group(request).view_hooks:
            response = hook(request, view_func, view_args, view_kwargs)
            if response is not None:
                return response
        return None

    def process_exception(self, request, exception):
        for hook in self._group(request).exception_hooks:
            response = hook(request, exception)
            if response is not None:
                return response
        return None

    def process_template_response(self, request, response):
        for hook in self._group(request).template_hooks:
            response = hook(request, response)
        return response
