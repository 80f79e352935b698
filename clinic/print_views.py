"""What every printable page answers: the print view (our print stylesheet, no navigation, no
forms) and the same HTML as a PDF rendered on the server (clinic.pdf).

A PDF's file name says what it is and when, never whose it is: the name lands in download folders,
browser histories and shared printers' queues.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from clinic import pdf


def print_page(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    return render(request, template, {**context, "for_pdf": False})


def pdf_download(request: HttpRequest, template: str, context: dict, *, filename: str, title: str) -> HttpResponse:
    html = render_to_string(template, {**context, "for_pdf": True}, request=request)
    response = HttpResponse(pdf.render(html, title=title), content_type=pdf.PDF_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
