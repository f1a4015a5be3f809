"""What a run is shown as: the console's text and summary.md, the HTML site, its figures."""
