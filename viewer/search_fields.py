"""The fields the payments list can be searched in, with their captions.

On its own (no imports) so the navigator's search box can be drawn in the first paint without importing the
navigation, its models and the schema (ui/navigator.py, ui/app.py's start-up order).
"""

# Business Central refuses OR across different fields, so search looks in one chosen field.
SEARCH_FIELDS = {
    "documentNumber": "Document No.",
    "customerNumber": "Customer No.",
    "description": "Description",
}
