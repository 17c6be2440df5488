"""The API's JSON parser: DRF's, with one more kind of bad body answered as one.

Python's json module parses nested arrays and objects by recursion, so a body nested a few thousand deep
raises RecursionError, which is not a ValueError: DRF let it through as a 500. No request of this API nests
more than two levels, so any body that deep is simply malformed.
"""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as DrfJSONParser


class JSONParser(DrfJSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
