from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    """``{"count", "next", "previous", "results"}`` as API.md says."""

    page_size_query_param = "page_size"
    max_page_size = 200


# The query parameters of a page, for the views that paginate by hand (``Pagination()`` in the
# view): drf-spectacular lists them by itself only for DRF's generic list views.
PAGE_PARAMETERS = [
    OpenApiParameter(
        Pagination.page_query_param, OpenApiTypes.INT, description=Pagination.page_query_description
    ),
    OpenApiParameter(
        Pagination.page_size_query_param,
        OpenApiTypes.INT,
        description=Pagination.page_size_query_description,
    ),
]
