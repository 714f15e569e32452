"""The plugin's name and the URIs of its operators."""

#: the plugin name of fiftyone.yml
PLUGIN = "@fiftyone-curvature/curvature"


def uri(operator_name):
    """The URI of one of the plugin's operators or panels."""
    return f"{PLUGIN}/{operator_name}"
