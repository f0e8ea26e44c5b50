"""Report downloads: the file, to whoever may see it."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.utils.http import content_disposition_header

from reports.models import Report
from reports.selectors import can_download


@login_required(login_url="admin:login")
def download(request, pk: int):
    report = Report.objects.filter(pk=pk).first()
    if report is None or not can_download(request.user, report):
        raise Http404("No such report.")  # the same answer for "not yours" as for "not there"
    if report.state == Report.State.EXPIRED:
        return HttpResponse("This file was deleted by the retention rule; request the report again.", status=410, content_type="text/plain")
    if report.state != Report.State.DONE or not report.file:
        return HttpResponse(f"The report is {report.state}, not ready yet.", status=409, content_type="text/plain")
    if settings.FILE_STORAGE == "s3":
        # A signed link, valid FILE_DOWNLOAD_URL_TTL seconds, made for this request: the file
        # comes from the object store, not through the web process.
        disposition = content_disposition_header(as_attachment=True, filename=report.file_name)
        url = report.file.storage.url(
            report.file.name,
            parameters={"ResponseContentDisposition": disposition, "ResponseContentType": report.content_type},
            expire=settings.FILE_DOWNLOAD_URL_TTL,
        )
        return HttpResponseRedirect(url)
    return FileResponse(report.file.open("rb"), as_attachment=True, filename=report.file_name, content_type=report.content_type)
