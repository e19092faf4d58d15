"""Quality: offline evaluation of kefu's components on labelled data."""
