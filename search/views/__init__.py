"""Views of the search app, by concern: results (page and dropdown), note panels, index status."""
