from django.http import HttpRequest


def company_scope(request: HttpRequest) -> dict:
    return {"company_scope": getattr(request, "company_scope", None)}
