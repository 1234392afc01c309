"""pytest plugin: ``pytest --tokcheck-model MODEL`` turns tokcheck's checks into test items."""
